//go:build windows

package lockedfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// On Windows the link itself is opened (FILE_FLAG_OPEN_REPARSE_POINT) and
// refused; its target is neither read nor written.
func TestLinksAreNotFollowedOnWindows(t *testing.T) {
	if syscall.NewLazyDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil {
		// wine makes a Unix symlink, which is no reparse point to open.
		t.Skip("under wine, whose symbolic links are not Windows reparse points")
	}
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Skipf("cannot make a symbolic link here (needs the privilege or developer mode): %v", err)
	}
	if _, err := Read(link, 100); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Read through a link: %v", err)
	}
	if f, err := OpenFile(link, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); !errors.Is(err, ErrNotRegular) {
		if f != nil {
			f.Close()
		}
		t.Errorf("append through a link: %v", err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "locked"+LockSuffix)); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(context.Background(), filepath.Join(dir, "locked")); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Lock through a link: %v", err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "precious" {
		t.Fatalf("victim = %q", data)
	}
	// Regular files work as ever.
	if err := Replace(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := Read(filepath.Join(dir, "f"), 100); err != nil || string(data) != "x" {
		t.Fatalf("Read = %q, %v", data, err)
	}
}
