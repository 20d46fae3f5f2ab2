//go:build !windows

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pace-cli/pace/internal/testenv"
)

// The attacks of a config folder someone else can reach: links planted
// where pace writes, special files where it reads, and folders that are
// not the user's own. The command's output and exit code never change,
// nothing outside the folder is touched, nothing hangs, and
// PACE_TELEMETRY_DEBUG says what happened.

const debug = "PACE_TELEMETRY_DEBUG=1"

// paceWithin runs pace like pace() but fails, rather than hangs, if it
// does not finish in time.
func paceWithin(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, paceBin, args...)
	cmd.Env = append([]string{"PACE_CONFIG_PATH=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
	r := run(t, cmd)
	if ctx.Err() != nil {
		t.Fatalf("pace %v did not finish in 20 s", args)
	}
	return r
}

// victim is a file outside the config folder that links point at.
func victim(t *testing.T) (path string, unchanged func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(path, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, func() {
		t.Helper()
		if data, err := os.ReadFile(path); err != nil || string(data) != "precious\n" {
			t.Fatalf("the file a planted link points to changed: %q, %v", data, err)
		}
	}
}

func TestPlantedLinksAreNeverFollowed(t *testing.T) {
	ref := t.TempDir()
	pace(t, ref, nil, "version")
	clean := pace(t, ref, nil, "version")
	cases := []struct {
		link    string
		counted bool   // pace version is still counted
		says    string // in the debug output, when not counted
	}{
		// Temporary files have random names now: a link at the old fixed
		// name is simply never opened.
		{"telemetry.yaml.tmp", true, ""},
		{"config.yaml.tmp", true, ""},
		{"telemetry.yaml.lock", false, "telemetry.yaml.lock: not a regular file: it is a symbolic link"},
		{"telemetry.yaml", false, "telemetry.yaml: not a regular file: it is a symbolic link"},
		{"config.yaml", false, "config.yaml: not a regular file: it is a symbolic link"},
	}
	for _, c := range cases {
		t.Run(c.link, func(t *testing.T) {
			dir := t.TempDir()
			pace(t, dir, nil, "version")
			before := load(t, dir)["pace version"][0]
			target, unchanged := victim(t)
			os.Remove(filepath.Join(dir, c.link))
			if err := os.Symlink(target, filepath.Join(dir, c.link)); err != nil {
				t.Fatal(err)
			}
			got := paceWithin(t, dir, []string{debug}, "version")
			if got.stdout != clean.stdout || got.code != clean.code {
				t.Fatalf("with a link at %s: %+v, want %+v", c.link, got, clean)
			}
			if c.says != "" && !strings.Contains(got.stderr, c.says) {
				t.Errorf("debug output does not say why: %q", got.stderr)
			}
			unchanged()
			// Writing settings: refused with a clear error where the link
			// is in the way, never through it.
			r := paceWithin(t, dir, nil, "telemetry", "local")
			if c.link == "config.yaml" || c.link == "config.yaml.lock" {
				if r.code == 0 || !strings.Contains(r.stderr, "symbolic link") {
					t.Errorf("telemetry local with a link at %s: %+v", c.link, r)
				}
			} else if r.code != 0 {
				t.Errorf("telemetry local: %+v", r)
			}
			unchanged()
			if c.link == "telemetry.yaml" {
				return
			}
			if after := load(t, dir)["pace version"][0]; c.counted != (after == before+1) {
				t.Errorf("pace version went from %d to %d (counted: want %v)", before, after, c.counted)
			}
		})
	}
	// The lock of config.yaml, planted as a link: settings are not written.
	dir := t.TempDir()
	target, unchanged := victim(t)
	os.Symlink(target, filepath.Join(dir, "config.yaml.lock"))
	if r := paceWithin(t, dir, nil, "telemetry", "disable"); r.code == 0 || !strings.Contains(r.stderr, "config.yaml.lock: not a regular file: it is a symbolic link") {
		t.Errorf("telemetry disable with a link at config.yaml.lock: %+v", r)
	}
	unchanged()
	if _, err := os.Lstat(filepath.Join(dir, "config.yaml")); err == nil {
		t.Error("config.yaml written without its lock")
	}
}

// A named pipe where pace reads or locks: refused at once, the command
// unaffected, never a hang (a FIFO opened for reading waits for a writer).
func TestSpecialFilesNeverHang(t *testing.T) {
	ref := t.TempDir()
	pace(t, ref, nil, "version")
	clean := pace(t, ref, nil, "version")
	for _, name := range []string{"telemetry.yaml", "config.yaml", "telemetry.yaml.lock", "telemetry-upload.json"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pace(t, dir, nil, "version")
			os.Remove(filepath.Join(dir, name))
			if err := syscall.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
				t.Fatal(err)
			}
			got := paceWithin(t, dir, []string{debug}, "version")
			if got.stdout != clean.stdout || got.code != clean.code {
				t.Fatalf("with a FIFO at %s: %+v, want %+v", name, got, clean)
			}
			if name != "telemetry-upload.json" && !strings.Contains(got.stderr, name+": not a regular file: it is a named pipe (FIFO); remove it") {
				t.Errorf("debug output does not say why: %q", got.stderr)
			}
			status := paceWithin(t, dir, nil, "telemetry", "status")
			if status.code != 0 {
				t.Fatalf("status: %+v", status)
			}
			if !strings.Contains(status.stdout, "named pipe") {
				t.Errorf("status does not name the pipe: %q", status.stdout)
			}
			paceWithin(t, dir, nil, "telemetry", "show")
			paceWithin(t, dir, nil, "telemetry", "show", "--payload")
		})
	}
}

// A folder that is not the user's own, or that others may write to: pace
// keeps nothing there, says why, and the command is unaffected.
func TestForeignFoldersAreNotUsed(t *testing.T) {
	ref := t.TempDir()
	pace(t, ref, nil, "version")
	clean := pace(t, ref, nil, "version")
	cases := []struct {
		name string
		mode os.FileMode
		uid  int // -1: the user's own
		says string
	}{
		{"another user's", 0o700, 54321, "it belongs to uid 54321, not to you"},
		{"another user's, open to all", 0o755, 54321, "it belongs to uid 54321"},
		{"group-writable", 0o770, -1, "others may write to it (mode 0770)"},
		{"world-writable", 0o777, -1, "others may write to it (mode 0777)"},
		{"shared like /tmp", 0o1777, -1, "others may write to it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pace")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, c.mode)
			if c.uid >= 0 {
				// Tests run as root here, and root may give a folder away;
				// elsewhere this case cannot be made.
				if err := os.Chown(dir, c.uid, c.uid); err != nil {
					testenv.Unavailable(t, fmt.Sprintf("cannot give a folder to another user: %v", err))
				}
			}
			got := paceWithin(t, dir, []string{debug}, "version")
			if got.stdout != clean.stdout || got.code != clean.code {
				t.Fatalf("in %s: %+v, want %+v", c.name, got, clean)
			}
			if !strings.Contains(got.stderr, "not recorded: telemetry is off (the config folder "+dir+" is not safe to use: "+c.says) {
				t.Errorf("debug output: %q", got.stderr)
			}
			status := paceWithin(t, dir, nil, "telemetry", "status")
			if status.code != 0 || !regexp.MustCompile(`(?m)^mode:\s+off$`).MatchString(status.stdout) || !strings.Contains(status.stdout, "set by:       the config folder "+dir+" is not safe to use: "+c.says) || !strings.Contains(status.stdout, "pace counts nothing there") {
				t.Errorf("status: %+v", status)
			}
			if r := paceWithin(t, dir, nil, "telemetry", "local"); r.code == 0 || !strings.Contains(r.stderr, "not safe to use") {
				t.Errorf("telemetry local wrote settings there: %+v", r)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("pace left files in %s: %v", c.name, entries)
			}
		})
	}
}
