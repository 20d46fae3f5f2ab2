// Package lockedfile edits small files that several processes share: a
// read-modify-write under an exclusive lock, ending in an atomic replace
// or, for files whose readers take the lock too, a write in place.
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
	"hash/crc32"
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
		p := newPatience(path, idle, most)
		defer p.stop()
		for {
			select {
			case err := <-locked:
				return err
			case now := <-p.tick.C:
				if p.over(now) {
					return ErrLockTimeout
				}
			}
		}
	})
}

// patience is LockPatient's wait: it looks at path a few times in idle,
// and is over after idle without a change, or after most in all.
type patience struct {
	path              string
	idle, most        time.Duration
	start, lastChange time.Time
	last              fileStamp
	tick              *time.Ticker
}

func newPatience(path string, idle, most time.Duration) *patience {
	now := time.Now()
	return &patience{path, idle, most, now, now, stamp(path), time.NewTicker(max(idle/8, time.Millisecond))}
}

func (p *patience) over(now time.Time) bool {
	if s := stamp(p.path); s != p.last {
		p.last, p.lastChange = s, now
	}
	return now.Sub(p.lastChange) > p.idle || now.Sub(p.start) > p.most
}

func (p *patience) stop() { p.tick.Stop() }

// stamp identifies a version of a file, replaced by rename or written
// over in place: its time, size and identity, and (where stampsContent)
// a checksum of its content. Only waiters compute it, a few times a
// second.
type fileStamp struct {
	mod  time.Time
	size int64
	sys  any
	sum  uint32
}

func stamp(path string) fileStamp {
	if !stampsContent {
		fi, err := os.Stat(path)
		if err != nil {
			return fileStamp{}
		}
		return fileStamp{fi.ModTime(), fi.Size(), fileID(fi), 0}
	}
	data, fi, err := read(path, stampMaxSize)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size(), fileID(fi), crc32.ChecksumIEEE(data)}
}

// stampMaxSize bounds what stamp reads: more than any file kept here.
const stampMaxSize = 4 << 20

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
	unlock, err = held(l, name)
	return unlock, err == nil, err
}

// lock tries once, then blocks in the kernel while wait decides how long
// to wait. Waiters block rather than poll: with dozens of pace processes on
// two cores, pollers burn the CPU the holder needs and lose the race
// unfairly.
func lock(path string, wait func(locked <-chan error) error) (unlock func(), err error) {
	l, name := newLock(path)
	ok, err := l.TryLock()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("lock: %w", describe(name, err))
	}
	if ok {
		return held(l, name)
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
	return held(l, name)
}

// lockShared takes the lock that guards path shared, as a reader, with
// LockPatient's patience. A reader polls: it is a rare process
// (pace-telemetryd, pace telemetry show) that must not leave a blocked
// call and an open descriptor behind each time it gives up.
func lockShared(path string, idle, most time.Duration) (unlock func(), err error) {
	l, name := newLock(path)
	var p *patience // made on the first wait: most reads wait for nothing
	for {
		ok, err := l.TryRLock()
		switch {
		case err != nil:
			l.Close()
			return nil, fmt.Errorf("lock: %w", describe(name, err))
		case ok:
			return held(l, name)
		case p == nil:
			p = newPatience(path, idle, most)
			defer p.stop()
		}
		select {
		case <-time.After(2 * time.Millisecond):
		case now := <-p.tick.C:
			if p.over(now) {
				l.Close()
				return nil, fmt.Errorf("lock %s: %w", name, ErrLockTimeout)
			}
		}
	}
}

// newLock is the lock on path's lock file, opened (made if missing)
// without following a link or blocking on a pipe.
func newLock(path string) (*flock.Flock, string) {
	name := path + LockSuffix
	return flock.New(name, flock.SetFlag(os.O_CREATE|os.O_RDONLY|openFlags), flock.SetPermissions(0o600)), name
}

// held checks that the lock file l holds is a regular file, and returns
// its release.
func held(l *flock.Flock, name string) (unlock func(), err error) {
	release := func() { l.Unlock(); l.Close() }
	if fi, err := os.Lstat(name); err == nil {
		bad := singleName(name, pathLinks(name, fi))
		if !fi.Mode().IsRegular() {
			bad = notRegular(name, fi.Mode())
		}
		if bad != nil {
			release()
			return nil, fmt.Errorf("lock: %w", bad)
		}
	}
	return release, nil
}

// Edit locks path (see LockPatient for idle and most), reads it, and
// passes its content to edit. readErr is nil,
// an error wrapping fs.ErrNotExist, ErrTooLarge (content over maxSize bytes),
// or another read error. If edit returns non-nil data, it replaces the file
// atomically with mode perm. Edit's own error is returned as is.
func Edit(path string, idle, most time.Duration, maxSize int64, perm fs.FileMode, edit func(data []byte, readErr error) ([]byte, error)) error {
	return editFile(path, idle, most, maxSize, perm, false, edit)
}

// EditInPlace is Edit for a file whose readers all hold its lock
// (ReadShared): when the new content is as long as the old and differs
// from it only within one 512-byte sector, it writes just those bytes over
// the old ones instead of replacing the file.
//
// That is the common edit of a counters file (41 becomes 42), and it skips
// most of an edit's cost: creating a file, and a rename over the old one,
// which on ext4 also starts writing the new file out at once. It is as
// safe as Replace: a write() call is never left half done by a killed
// process, readers never see one in progress (they wait for the lock), and
// a disk writes a sector whole, so a power loss leaves the old bytes or the
// new ones, as it leaves the old file or the new one without fsync.
func EditInPlace(path string, idle, most time.Duration, maxSize int64, perm fs.FileMode, edit func(data []byte, readErr error) ([]byte, error)) error {
	return editFile(path, idle, most, maxSize, perm, true, edit)
}

func editFile(path string, idle, most time.Duration, maxSize int64, perm fs.FileMode, inPlace bool, edit func(data []byte, readErr error) ([]byte, error)) error {
	unlock, err := LockPatient(path, idle, most)
	if err != nil {
		return err
	}
	defer unlock()
	// The file is closed before edit runs: edit may move it aside, and
	// Windows does not rename an open file.
	data, fi, readErr := read(path, maxSize)
	out, err := edit(data, readErr)
	if err != nil || out == nil {
		return err
	}
	if inPlace && readErr == nil && overwrite(path, fi, data, out) {
		return nil
	}
	return Replace(path, out, perm)
}

// sectorSize is the unit a disk writes whole: 512 bytes on every disk, or
// more (4 KiB), which only widens what one write keeps whole.
const sectorSize = 512

// overwrite makes path, read as old with info fi, hold out, by writing the
// bytes where they differ, when they have the same length and differ
// within one sector. It reports whether it did; if it did not, the file
// may hold part of out, and the caller replaces it. A file that cannot be
// opened for writing (its owner made it read-only) is replaced too.
func overwrite(path string, fi fs.FileInfo, old, out []byte) bool {
	if len(old) != len(out) {
		return false
	}
	lo, hi := 0, len(out)
	for lo < hi && old[lo] == out[lo] {
		lo++
	}
	for hi > lo && old[hi-1] == out[hi-1] {
		hi--
	}
	if lo == hi {
		return true // nothing changed
	}
	if lo/sectorSize != (hi-1)/sectorSize {
		return false
	}
	f, now, err := openRegular(path, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	// The edit may have moved the file aside: write only if it is still
	// the file that was read.
	if !os.SameFile(fi, now) || now.Size() != int64(len(old)) {
		return false
	}
	_, err = f.WriteAt(out[lo:hi], int64(lo))
	return err == nil
}

// ReadShared reads path as Read does, holding its lock shared, so that
// an EditInPlace is never seen half done. It waits for the lock as
// LockPatient does, and gives up with ErrLockTimeout rather than read what
// may be half written: the caller tries again later. Where no lock can be
// had at all (in a folder this process cannot write to, no lock file can
// be made, so no writer holds one either), the file is read without it.
func ReadShared(path string, maxSize int64, idle, most time.Duration) ([]byte, error) {
	// Making a lock file for a file that does not exist would be litter.
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	unlock, err := lockShared(path, idle, most)
	if errors.Is(err, ErrLockTimeout) {
		return nil, err
	}
	if err == nil {
		defer unlock()
	}
	return Read(path, maxSize)
}

// Read reads path, refusing to hold more than maxSize bytes in memory, and
// refusing anything but a regular file (OpenFile).
func Read(path string, maxSize int64) ([]byte, error) {
	data, _, err := read(path, maxSize)
	return data, err
}

// read is Read that also gives the file's info, as it was opened.
func read(path string, maxSize int64) ([]byte, fs.FileInfo, error) {
	f, fi, err := openRegular(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	data, err := readAll(f, fi, maxSize)
	return data, fi, err
}

// readAll reads f, whose info is fi, to its end. It makes one read of the
// size the file has now (plus one byte, to see growth) rather than
// io.ReadAll's growing buffer: this is on every pace run.
func readAll(f *os.File, fi fs.FileInfo, maxSize int64) ([]byte, error) {
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
		err = Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
