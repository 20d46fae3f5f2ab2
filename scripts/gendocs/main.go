// Command gendocs writes the man pages and shell completions of pace and
// pace-telemetryd, for release archives and packages:
//
//	go run ./scripts/gendocs -out build
//
// gives build/manpages/*.1.gz and build/completions/NAME.bash, _NAME (zsh),
// NAME.fish and NAME.ps1 for NAME pace and pace-telemetryd.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/pace-cli/pace/internal/build"
	"github.com/pace-cli/pace/internal/cli"
	"github.com/pace-cli/pace/internal/daemoncmd"
)

func main() {
	out := flag.String("out", "build", "folder to write manpages/ and completions/ into")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func generate(out string) error {
	// Reproducible pages: the date is the release's (SOURCE_DATE_EPOCH,
	// as goreleaser and Debian set it), not today's.
	date := time.Unix(0, 0).UTC()
	if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		date = time.Unix(s, 0).UTC()
	}
	for _, root := range []*cobra.Command{cli.Command(), daemoncmd.Command()} {
		root.DisableAutoGenTag = true
		if err := manPages(root, date, filepath.Join(out, "manpages")); err != nil {
			return err
		}
		name := root.Name()
		for shell, file := range map[string]string{
			"bash":       filepath.Join(out, "completions", name+".bash"),
			"zsh":        filepath.Join(out, "completions", "_"+name),
			"fish":       filepath.Join(out, "completions", name+".fish"),
			"powershell": filepath.Join(out, "completions", name+".ps1"),
		} {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return err
			}
			f, err := os.Create(file)
			if err != nil {
				return err
			}
			switch shell {
			case "bash":
				err = root.GenBashCompletionV2(f, true)
			case "zsh":
				err = root.GenZshCompletion(f)
			case "fish":
				err = root.GenFishCompletion(f, true)
			case "powershell":
				err = root.GenPowerShellCompletionWithDesc(f)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("%s completion of %s: %w", shell, name, err)
			}
		}
	}
	return nil
}

// manPages writes one gzipped page per command (as Debian wants them), with
// no time in the gzip header so that the same release gives the same bytes.
func manPages(root *cobra.Command, date time.Time, dir string) error {
	tmp, err := os.MkdirTemp("", "gendocs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: root.Name() + " " + build.Version(), Manual: "pace manual"}
	if err := doc.GenManTree(root, header, tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pages, err := filepath.Glob(filepath.Join(tmp, "*.1"))
	if err != nil {
		return err
	}
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(page)+".gz"), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
