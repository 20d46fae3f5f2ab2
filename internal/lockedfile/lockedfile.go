// Package lockedfile edits small files that several processes share: a
// read-modify-write under an exclusive lock, ending in an atomic replace.
//
// The lock is taken on a separate file (path + ".lock"), never on the file
// being replaced: on Windows a locked file cannot be renamed over, and on
// Unix a lock on an inode that a rename has just unlinked protects nothing.
//
// Every file is opened without following a symbolic link and without
// blocking on a named pipe, and must be a regular file (OpenFile); new
// versions are written to a temporary file created exclusively under a
// random name. A link or pipe planted in the folder is refused, never
// followed or waited on.
package lockedfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// ErrTooLarge is passed to an edit function when the file is bigger than
// the caller's limit; the data it gets is then nil.
var ErrTooLarge = errors.New("file is too large")

// ErrLockTimeout means another process held the lock for the whole wait.
var ErrLockTimeout = errors.New("timed out waiting for the lock")

// Lock takes the exclusive lock that guards path, waiting at most until
// ctx is done. The caller must call the returned unlock function.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	return lock(path, func(locked <-chan error) error {
		select {
		case err := <-locked:
			return err
		case <-ctx.Done():
			return ErrLockTimeout
		}
	})
}

// LockPatient takes the lock that guards path, waiting as long as path
// keeps changing (other processes are getting their turns) but giving up
// after idle without a change (a holder is stuck), or after most in all.
// A queue of many busy writers is waited for; a stuck one is not.
func LockPatient(path string, idle, most time.Duration) (unlock func(), err error) {
	return lock(path, func(locked <-chan error) error {
		start := time.Now()
		last, lastChange := stamp(path), start
		tick := time.NewTicker(max(idle/8, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case err := <-locked:
				return err
			case now := <-tick.C:
				if s := stamp(path); s != last {
					last, lastChange = s, now
				}
				if now.Sub(lastChange) > idle || now.Sub(start) > most {
					return ErrLockTimeout
				}
			}
		}
	})
}

// stamp identifies a version of a file that is replaced by rename.
type fileStamp struct {
	mod  time.Time
	size int64
	sys  any
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size(), fileID(fi)}
}

// TryLockFile takes an exclusive lock on the file name itself (made if
// missing), without waiting: ok is false while another process holds it.
// Like every open here, it refuses a link or a special file at name.
func TryLockFile(name string) (unlock func(), ok bool, err error) {
	l := flock.New(name, flock.SetFlag(os.O_CREATE|os.O_RDONLY|openFlags), flock.SetPermissions(0o600))
	ok, err = l.TryLock()
	if err != nil {
		l.Close()
		return nil, false, fmt.Errorf("lock: %w", describe(name, err))
	}
	if !ok {
		l.Close()
		return nil, false, nil
	}
	release := func() { l.Unlock(); l.Close() }
	if fi, err := os.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		release()
		return nil, false, fmt.Errorf("lock: %w", notRegular(name, fi.Mode()))
	}
	return release, true, nil
}

// lock tries once, then blocks in the kernel while wait decides how long
// to wait. Waiters block rather than poll: with dozens of pace processes on
// two cores, pollers burn the CPU the holder needs and lose the race
// unfairly.
func lock(path string, wait func(locked <-chan error) error) (unlock func(), err error) {
	name := path + LockSuffix
	l := flock.New(name, flock.SetFlag(os.O_CREATE|os.O_RDONLY|openFlags), flock.SetPermissions(0o600))
	release := func() { l.Unlock(); l.Close() }
	// flock opened the lock without following a link or blocking on a
	// pipe; what it opened must also be a regular file.
	checked := func() (func(), error) {
		if fi, err := os.Lstat(name); err == nil && !fi.Mode().IsRegular() {
			release()
			return nil, fmt.Errorf("lock: %w", notRegular(name, fi.Mode()))
		}
		return release, nil
	}
	ok, err := l.TryLock()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("lock: %w", describe(name, err))
	}
	if ok {
		return checked()
	}
	locked := make(chan error, 1)
	go func() { locked <- l.Lock() }()
	if err := wait(locked); err != nil {
		if errors.Is(err, ErrLockTimeout) {
			// The blocked call cannot be cancelled; release the lock if it
			// is granted after all (process exit would release it too).
			go func() {
				if <-locked == nil {
					l.Unlock()
				}
				l.Close()
			}()
		} else {
			l.Close()
		}
		return nil, fmt.Errorf("lock %s: %w", l.Path(), err)
	}
	return checked()
}

// Edit locks path (see LockPatient for idle and most), reads it, and
// passes its content to edit. readErr is nil,
// an error wrapping fs.ErrNotExist, ErrTooLarge (content over maxSize bytes),
// or another read error. If edit returns non-nil data, it replaces the file
// atomically with mode perm. Edit's own error is returned as is.
func Edit(path string, idle, most time.Duration, maxSize int64, perm fs.FileMode, edit func(data []byte, readErr error) ([]byte, error)) error {
	unlock, err := LockPatient(path, idle, most)
	if err != nil {
		return err
	}
	defer unlock()
	data, readErr := Read(path, maxSize)
	out, err := edit(data, readErr)
	if err != nil || out == nil {
		return err
	}
	return Replace(path, out, perm)
}

// Read reads path, refusing to hold more than maxSize bytes in memory, and
// refusing anything but a regular file (OpenFile).
func Read(path string, maxSize int64) ([]byte, error) {
	f, fi, err := openRegular(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One read of the size the file has now (plus one byte, to see growth)
	// rather than io.ReadAll's growing buffer: this is on every pace run.
	size := int64(512)
	if fi.Size() > 0 {
		size = min(fi.Size(), maxSize) + 1
	}
	data := make([]byte, 0, size)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > maxSize {
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}

// Replace writes data to a new file beside path and renames it over path,
// so a reader or a crash at any moment sees either the old file or the
// new one, never a part. The new file is created exclusively (O_EXCL,
// which never follows a link) under a random name, with mode perm: no
// file planted in the folder is ever written to or becomes path.
//
// There is no fsync: process crashes cannot lose the written data (the page
// cache has it), and a file cut short by a power loss is caught by the
// reader's validation and moved aside. A writer killed before its rename
// leaves its temporary file; RemoveTemps clears those.
func Replace(path string, data []byte, perm fs.FileMode) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(filepath.Clean(dir), base+TempSuffix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if perm != 0o600 { // CreateTemp's mode
		err = f.Chmod(perm)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
