//go:build !windows

package lockedfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Links planted where this package reads, locks or appends are refused,
// never followed: the file they point to stays as it was.
func TestLinksAreNotFollowed(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(victim, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := Read(link("read"), 100); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Read through a link: %v", err)
	}
	if f, err := OpenFile(link("append"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); !errors.Is(err, ErrNotRegular) {
		f.Close()
		t.Errorf("append through a link: %v", err)
	}
	link("locked" + LockSuffix)
	if _, err := Lock(context.Background(), filepath.Join(dir, "locked")); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Lock through a link: %v", err)
	}
	if _, _, err := TryLockFile(link("daemon.lock")); !errors.Is(err, ErrNotRegular) {
		t.Errorf("TryLockFile through a link: %v", err)
	}
	// Edit: neither the lock nor the file through a link.
	err := Edit(filepath.Join(dir, "locked"), time.Second, time.Second, 100, 0o600, func([]byte, error) ([]byte, error) {
		return []byte("overwritten"), nil
	})
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("Edit with a planted lock link: %v", err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "precious" {
		t.Fatalf("victim = %q", data)
	}
	// A link at the file itself is replaced by the new file, not written
	// through.
	target := link("replaced")
	if err := Replace(target, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(target); !fi.Mode().IsRegular() {
		t.Fatal("link still there")
	}
	if data, _ := os.ReadFile(victim); string(data) != "precious" {
		t.Fatalf("victim = %q", data)
	}
}

// A named pipe, a socket or a folder where a file should be is refused at
// once: nothing waits for a writer that never comes.
func TestSpecialFilesAreRefusedWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder")
	os.Mkdir(folder, 0o700)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range []string{fifo, folder} {
			if _, err := Read(p, 100); !errors.Is(err, ErrNotRegular) {
				t.Errorf("Read(%s) = %v", p, err)
			}
			if f, err := OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); !errors.Is(err, ErrNotRegular) {
				f.Close()
				t.Errorf("OpenFile(%s) for append = %v", p, err)
			}
		}
		if _, err := Read(fifo, 100); err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("Read(fifo) does not say what it is: %v", err)
		}
		lockFifo := filepath.Join(dir, "g"+LockSuffix)
		syscall.Mkfifo(lockFifo, 0o600)
		if _, err := Lock(context.Background(), filepath.Join(dir, "g")); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Lock on a FIFO: %v", err)
		}
		if _, _, err := TryLockFile(lockFifo); !errors.Is(err, ErrNotRegular) {
			t.Errorf("TryLockFile on a FIFO: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("blocked on a named pipe")
	}
}
