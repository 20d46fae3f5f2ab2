// Command gendocs writes the man pages and shell completions of pace and
// pace-telemetryd, for release archives and packages:
//
//	go run ./scripts/gendocs -out build/docs
//
// gives build/docs/man/*.1 and build/docs/completions/{bash,zsh,fish,powershell}/….
package main

import (
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
	"github.com/pace-cli/pace/internal/telemetryd"
)

func main() {
	out := flag.String("out", "build/docs", "folder to write man/ and completions/ into")
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
	for _, root := range []*cobra.Command{cli.Command(), telemetryd.Command()} {
		root.DisableAutoGenTag = true
		man := filepath.Join(out, "man")
		if err := os.MkdirAll(man, 0o755); err != nil {
			return err
		}
		header := &doc.GenManHeader{Section: "1", Date: &date, Source: root.Name() + " " + build.Version(), Manual: "pace manual"}
		if err := doc.GenManTree(root, header, man); err != nil {
			return err
		}
		name := root.Name()
		for shell, file := range map[string]string{
			"bash":       filepath.Join(out, "completions", "bash", name),
			"zsh":        filepath.Join(out, "completions", "zsh", "_"+name),
			"fish":       filepath.Join(out, "completions", "fish", name+".fish"),
			"powershell": filepath.Join(out, "completions", "powershell", name+".ps1"),
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
