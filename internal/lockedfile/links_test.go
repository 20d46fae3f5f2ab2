package lockedfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A file with a second name (a hard link) is neither read, written nor
// locked: through it pace could change a file elsewhere. Its content, and
// that of the other name, stay as they were.
func TestHardLinksAreRefused(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	var victims []string
	link := func(name string) string {
		victim := filepath.Join(elsewhere, name)
		if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		victims = append(victims, victim)
		p := filepath.Join(dir, name)
		if err := os.Link(victim, p); err != nil {
			t.Skipf("cannot make a hard link here: %v", err)
		}
		return p
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrLinked) || !strings.Contains(err.Error(), "2 names (hard links)") || !strings.Contains(err.Error(), "copy it") {
			t.Errorf("%s: %v, want ErrLinked saying how to fix it", what, err)
		}
	}
	p := link("read")
	_, err := Read(p, 100)
	refused("Read", err)
	f, err := OpenFile(p, os.O_WRONLY|os.O_APPEND, 0o600)
	if err == nil {
		f.Close()
	}
	refused("append", err)
	// Edit hands the refusal to its callback, which decides.
	for name, edit := range map[string]func(string, time.Duration, time.Duration, int64, os.FileMode, func([]byte, error) ([]byte, error)) error{"Edit": Edit, "EditInPlace": EditInPlace} {
		var readErr error
		if err := edit(p, time.Second, time.Second, 100, 0o600, func(_ []byte, err error) ([]byte, error) { readErr = err; return nil, nil }); err != nil {
			t.Fatal(err)
		}
		refused(name, readErr)
	}
	link("locked" + LockSuffix)
	_, err = Lock(context.Background(), filepath.Join(dir, "locked"))
	refused("Lock", err)
	_, _, err = TryLockFile(link("daemon.lock"))
	refused("TryLockFile", err)
	refused("CheckFiles", CheckFiles(filepath.Join(dir, "missing"), p))
	unchanged := func() {
		t.Helper()
		for _, v := range victims {
			if data, _ := os.ReadFile(v); string(data) != "precious" {
				t.Fatalf("%s = %q", v, data)
			}
		}
	}
	unchanged()
	// A file of one name works as ever, and so does the fix the error
	// names: a copy renamed over the linked file.
	if err := Replace(p, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := Read(p, 100); err != nil || string(data) != "mine" {
		t.Fatalf("after the fix, Read = %q, %v", data, err)
	}
	unchanged()
}
