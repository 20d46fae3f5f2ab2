//go:build !windows

package upload

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pace-cli/pace/internal/lockedfile"
)

// The daemon's state file: a pipe in its place is refused at once (status
// and the daemon never hang), and a link planted at its old temporary name
// is never written through.
func TestUploadStateRefusesPlantedFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, StateFileName), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := LoadState(dir); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, lockedfile.ErrNotRegular) {
			t.Fatalf("LoadState over a FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LoadState blocks on a FIFO")
	}
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	os.Symlink(victim, filepath.Join(dir, StateFileName+".tmp"))
	at := time.Date(2026, 11, 25, 4, 44, 17, 0, time.UTC)
	if err := (State{LastSuccess: at}).Save(dir); err != nil {
		t.Fatal(err)
	}
	if st, err := LoadState(dir); err != nil || !st.LastSuccess.Equal(at) {
		t.Fatalf("after Save: %+v, %v", st, err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "precious" {
		t.Fatalf("victim = %q", data)
	}
}
