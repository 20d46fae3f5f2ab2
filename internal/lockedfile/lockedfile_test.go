package lockedfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
	os.WriteFile(path, []byte("old"), 0o600)
	// A directory where the temporary file must go makes the write fail.
	if err := os.Mkdir(path+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Replace(path, []byte("new"), 0o600); err == nil {
		t.Fatal("Replace succeeded without its temporary file")
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Fatalf("file = %q after a failed replace", data)
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
