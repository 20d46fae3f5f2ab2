//go:build !windows

package daemon

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
	"github.com/pace-cli/pace/internal/telemetry"
)

// The daemon refuses a config folder others can write to, with an error
// that says why and how to fix it, rather than upload from it.
func TestDaemonRefusesAnUnsafeFolder(t *testing.T) {
	cases := map[string]func(dir string) error{
		"others may write to it (mode 0777)": func(dir string) error { return os.Chmod(dir, 0o777) },
		"it belongs to uid 54321":            func(dir string) error { return os.Chown(dir, 54321, 54321) },
	}
	for want, spoil := range cases {
		dir := filepath.Join(t.TempDir(), "pace")
		os.Mkdir(dir, 0o700)
		if err := spoil(dir); err != nil {
			t.Fatalf("cannot make the folder unsafe: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := Run(ctx, Config{Dir: dir, Getenv: func(string) string { return "" }, Endpoint: "http://127.0.0.1:1/"})
		cancel()
		if !errors.Is(err, config.ErrUnsafeFolder) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("Run in a folder where %s: %v", want, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("the daemon left %v there", entries)
		}
	}
}

// Links planted at the daemon's files are never followed, pipes never
// waited on: a flush finishes, delivers, and touches nothing outside the
// folder.
func TestFlushWithPlantedFiles(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	var delivered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		delivered.Add(1)
		io.WriteString(w, "OK")
	}))
	defer srv.Close()
	plant := map[string]func(path string) error{
		config.UploadStateName + ".tmp": func(p string) error { return os.Symlink(victim, p) },
		config.UploadStateName:          func(p string) error { return syscall.Mkfifo(p, 0o600) },
		config.SentLogName:              func(p string) error { return os.Symlink(victim, p) },
		config.SentLogName + " (pipe)":  func(p string) error { return syscall.Mkfifo(strings.TrimSuffix(p, " (pipe)"), 0o600) },
		config.DaemonLockName:           func(p string) error { return os.Symlink(victim, p) },
		config.DaemonLockName + " pipe": func(p string) error { return syscall.Mkfifo(strings.TrimSuffix(p, " pipe"), 0o600) },
	}
	for name, do := range plant {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			(&telemetry.Store{Dir: dir, Version: "v1"}).Record("pace version", 0)
			if err := do(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			before := delivered.Load()
			done := make(chan error, 1)
			go func() {
				_, _, err := Flush(context.Background(), Config{Dir: dir, Getenv: func(string) string { return "" }, Endpoint: srv.URL, Version: "v1"})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("flush hangs")
			}
			if strings.HasPrefix(name, config.DaemonLockName) {
				// Without its lock the daemon does nothing, and says why.
				if !errors.Is(err, lockedfile.ErrNotRegular) || delivered.Load() != before {
					t.Fatalf("flush with %s planted: %v, %d uploads", name, err, delivered.Load()-before)
				}
			} else if err != nil || delivered.Load() != before+1 {
				t.Fatalf("flush with %s planted: %v, %d uploads", name, err, delivered.Load()-before)
			}
			if data, _ := os.ReadFile(victim); string(data) != "precious\n" {
				t.Fatalf("the linked file changed: %q", data)
			}
		})
	}
}
