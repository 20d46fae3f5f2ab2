package lockedfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestEditReplacesAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	err := Edit(path, time.Second, time.Second, 10, 0o600, func(data []byte, readErr error) ([]byte, error) {
		if !errors.Is(readErr, fs.ErrNotExist) {
			t.Fatalf("readErr = %v, want not-exist", readErr)
		}
		return []byte("one"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = Edit(path, time.Second, time.Second, 10, 0o600, func(data []byte, readErr error) ([]byte, error) {
		if readErr != nil || string(data) != "one" {
			t.Fatalf("got %q, %v", data, readErr)
		}
		return nil, nil // nil means leave the file as it is
	})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one" {
		t.Fatalf("file = %q", data)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}

func TestReadLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("0123456789"), 0o600)
	if _, err := Read(path, 10); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
	if _, err := Read(path, 9); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestLockIsExclusiveAndBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second Lock = %v, want ErrLockTimeout", err)
	}
	unlock()
	unlock2, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

func TestReplaceFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	// A non-empty folder where the file goes makes the rename fail.
	if err := os.MkdirAll(filepath.Join(path, "old"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Replace(path, []byte("new"), 0o600); err == nil {
		t.Fatal("Replace succeeded over a folder")
	}
	if _, err := os.Stat(filepath.Join(path, "old")); err != nil {
		t.Fatalf("the old content is gone: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("a temporary file was left behind: %v", entries)
	}
}

// Each Replace writes a new file of its own, made exclusively under a
// random name with the mode asked for: a file planted at the old fixed
// name, or at any name, is never written to and never becomes the file.
func TestReplaceUsesAFreshPrivateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	planted := path + ".tmp"
	if err := os.WriteFile(planted, []byte("planted"), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(planted, 0o666)
	if err := Replace(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != 0o600 && runtime.GOOS != "windows" {
		t.Fatalf("file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if data, _ := os.ReadFile(planted); string(data) != "planted" {
		t.Fatalf("the planted file was written: %q", data)
	}
	if data, _ := os.ReadFile(path); string(data) != "new" {
		t.Fatalf("file = %q", data)
	}
	// A writer killed before its rename leaves its file; RemoveTemps
	// clears such files and nothing else.
	stray := path + TempSuffix + "123"
	os.WriteFile(stray, []byte("half"), 0o600)
	RemoveTemps(path)
	if _, err := os.Stat(stray); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stray temporary file kept: %v", err)
	}
	for _, keep := range []string{path, planted} {
		if _, err := os.Stat(keep); err != nil {
			t.Fatalf("RemoveTemps removed %s", keep)
		}
	}
}

// A patient waiter waits while the guarded file keeps changing, and gives
// up soon once it stops.
func TestLockPatientWaitsForProgressOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	go func() { // another writer's progress, for a while, then release
		for i := 0; i < 30; i++ {
			Replace(path, []byte{byte(i)}, 0o600)
			time.Sleep(5 * time.Millisecond)
		}
		unlock()
		close(stop)
	}()
	// idle (60 ms) is far shorter than the holder's 150 ms: only the
	// changes keep this waiter waiting.
	unlock2, err := LockPatient(path, 60*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatalf("gave up while the file kept changing: %v", err)
	}
	unlock2()
	<-stop
	unlock3, _ := Lock(context.Background(), path)
	defer unlock3()
	if _, err := LockPatient(path, 30*time.Millisecond, 10*time.Second); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("a stuck holder: %v", err)
	}
}
