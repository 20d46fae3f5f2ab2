package lockedfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// A patient waiter waits while the guarded file keeps changing, whether
// replaced or written over in place, and gives up soon once it stops.
func TestLockPatientWaitsForProgressOnly(t *testing.T) {
	// "its time kept": a file system with coarse timestamps (FAT, HFS+)
	// shows no new time for writes within its tick.
	for _, how := range []string{"replaced", "written in place", "written in place, its time kept"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			os.WriteFile(path, []byte{0}, 0o600)
			unlock, err := Lock(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			go func() { // another writer's progress, for a while, then release
				for i := 0; i < 30; i++ {
					if how == "replaced" {
						Replace(path, []byte{byte(i)}, 0o600)
					} else if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
						f.WriteAt([]byte{byte(i)}, 0) // same size, same file
						f.Close()
						if how != "written in place" {
							os.Chtimes(path, time.Time{}, time.Unix(1e9, 0))
						}
					}
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
		})
	}
}

// editInPlace runs EditInPlace with a function that turns the content into
// want, and reports whether path is still the same file (written over)
// rather than a new one (replaced).
func editInPlace(t *testing.T, path string, want []byte) (sameFile bool) {
	t.Helper()
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	err = EditInPlace(path, time.Second, time.Second, 1<<20, 0o600, func(data []byte, readErr error) ([]byte, error) {
		if readErr != nil {
			t.Fatalf("readErr = %v", readErr)
		}
		return want, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != string(want) {
		t.Fatalf("file = %q, want %q", data, want)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(before, after)
}

// A change that keeps the length and lies within one sector is written
// over the old bytes; any other change replaces the file.
func TestEditInPlaceWritesOverOnlyWithinASector(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	pad := strings.Repeat("x", 1000)
	if err := os.WriteFile(path, []byte("count: 41\n"+pad), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		content string
		inPlace bool
	}{
		{"one digit", "count: 42\n" + pad, true},
		{"nothing", "count: 42\n" + pad, true},
		{"two places in one sector", "count: 53\n" + "y" + pad[1:], true},
		{"longer", "count: 100\n" + pad, false},
		{"shorter", "count: 7\n" + pad, false},
		{"two sectors apart", "count: 54\n" + "y" + pad[1:700] + "z" + pad[701:], false},
		// pad[i] is at offset 10+i: "ab" is at 511 and 512.
		{"across a sector boundary", "count: 54\n" + "y" + pad[1:501] + "ab" + pad[503:700] + "z" + pad[701:], false},
		{"the last sector", "count: 54\n" + "y" + pad[1:501] + "ab" + pad[503:700] + "z" + pad[701:980] + "end" + pad[983:], true},
	}
	for _, c := range cases {
		if got := editInPlace(t, path, []byte(c.content)); got != c.inPlace {
			t.Errorf("%s: written in place = %v, want %v", c.name, got, c.inPlace)
		}
	}
}

// An edit that moves the file aside (as a reader of bad content does)
// and returns content of the same length must not write into the file it
// moved: the new content becomes a new file.
func TestEditInPlaceNeverWritesAMovedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("bad 1"), 0o600)
	err := EditInPlace(path, time.Second, time.Second, 100, 0o600, func(data []byte, readErr error) ([]byte, error) {
		if err := os.Rename(path, path+".aside"); err != nil {
			t.Fatal(err)
		}
		return []byte("bad 2"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	aside, _ := os.ReadFile(path + ".aside")
	now, _ := os.ReadFile(path)
	if string(aside) != "bad 1" || string(now) != "bad 2" {
		t.Fatalf("moved aside: %q, file: %q", aside, now)
	}
}

// A reader holding the shared lock never sees a write in progress. The
// writer turns a whole sector from one letter to another; a reader
// without the lock (Read) does see mixed sectors here, within a few
// thousand reads.
func TestReadSharedNeverSeesAHalfWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	a, b := []byte(strings.Repeat("a", sectorSize)), []byte(strings.Repeat("b", sectorSize))
	os.WriteFile(path, a, 0o600)
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		var err error
		for i := 0; err == nil; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			err = EditInPlace(path, time.Second, time.Second, sectorSize, 0o600, func(data []byte, _ error) ([]byte, error) {
				if data[0] == 'a' {
					return b, nil
				}
				return a, nil
			})
		}
		done <- err
	}()
	mixed := 0
	for i := 0; i < 20000; i++ {
		data, err := ReadShared(path, sectorSize, time.Second, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != string(a) && string(data) != string(b) {
			mixed++
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if mixed > 0 {
		t.Fatalf("%d reads saw a half-written sector", mixed)
	}
}

// A reader never reads without the lock while a writer may hold it: a
// missing file makes no lock file; a stuck holder makes the reader give
// up after its wait, leaving nothing behind; a busy queue of writers is
// waited for.
func TestReadSharedWaitsForTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if _, err := ReadShared(path, 10, time.Second, time.Second); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Lstat(path + LockSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("reading a missing file made a lock file: %v", err)
	}
	os.WriteFile(path, []byte("kept"), 0o600)
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		if data, err := ReadShared(path, 10, time.Millisecond, time.Second); !errors.Is(err, ErrLockTimeout) || data != nil {
			t.Fatalf("under a stuck lock: %q, %v", data, err)
		}
	}
	if after := runtime.NumGoroutine(); after > before+5 {
		t.Fatalf("50 reads under a stuck lock left %d goroutines behind", after-before)
	}

	// The holder writes in place, its file's time kept (as on a file
	// system with coarse timestamps), for far longer than idle, then lets
	// go: the reader waits and reads what it wrote last.
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			unlock()
			return
		}
		for i := 0; i < 30; i++ {
			f.WriteAt([]byte{'a' + byte(i%26)}, 0)
			os.Chtimes(path, time.Time{}, time.Unix(1e9, 0))
			time.Sleep(5 * time.Millisecond)
		}
		f.WriteAt([]byte("done"), 0)
		f.Close()
		unlock()
	}()
	if data, err := ReadShared(path, 10, 60*time.Millisecond, 10*time.Second); err != nil || string(data) != "done" {
		t.Fatalf("behind a busy writer: %q, %v", data, err)
	}
}
