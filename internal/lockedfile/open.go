package lockedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Suffixes of the files this package makes beside a shared file: its lock
// (f.lock), and the randomly named file a new version is written to
// before it replaces f (f.tmp-123456).
const (
	LockSuffix = ".lock"
	TempSuffix = ".tmp-"
)

// ErrNotRegular means a path that should hold a regular file holds a
// symbolic link, a named pipe, a device, a socket or a folder. pace never
// follows or opens such a thing in its config folder: a link could make
// it write elsewhere, and a pipe would block it forever.
var ErrNotRegular = errors.New("not a regular file")

// ErrLinked means a file has more than one name (hard link). pace never
// reads or writes such a file in its config folder: the other name may be
// a file elsewhere that someone wants changed through pace (the hard-link
// variant of link redirection, CWE-1386).
var ErrLinked = errors.New("has more than one hard link")

// OpenFile opens path as os.OpenFile does, but without following a
// symbolic link at its last element and without blocking on a named pipe
// or a device, and refuses anything but a regular file (see ErrNotRegular).
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, _, err := openRegular(path, flag, perm)
	return f, err
}

// openRegular is OpenFile that also returns the file's info, which Read
// uses to size its buffer without another stat.
func openRegular(path string, flag int, perm fs.FileMode) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, flag|openFlags, perm)
	if err != nil {
		return nil, nil, describe(path, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(path, fi.Mode())
	}
	if err == nil {
		err = singleName(path, fileLinks(f, fi))
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// describe turns the errors an open without following links gives for a
// link (ELOOP, EMLINK) or a pipe without a reader (ENXIO) into one that
// names what is in the way.
func describe(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return err
	}
	if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
		return notRegular(path, fi.Mode())
	}
	return err
}

func notRegular(path string, m fs.FileMode) error {
	what := "a folder"
	switch {
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link, which pace does not follow here"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeIrregular != 0:
		what = "a special file"
	}
	return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it is %s; remove it", ErrNotRegular, what)}
}

// singleName refuses a file with n > 1 names, saying how to give it
// one without losing what it holds.
func singleName(path string, n uint32) error {
	if n <= 1 {
		return nil
	}
	return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it has %d names (hard links), so writing it could change a file elsewhere; make it a file of its own: copy it to a new name, then rename the copy over it", ErrLinked, n)}
}

// CheckFiles reports the first of paths that holds something other than a
// regular file of one name (a link, a pipe, a folder, a hard-linked
// file): what OpenFile would refuse. A missing path is fine.
func CheckFiles(paths ...string) error {
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			return notRegular(p, fi.Mode())
		}
		if err := singleName(p, pathLinks(p, fi)); err != nil {
			return err
		}
	}
	return nil
}

// RemoveTemps removes the temporary files a writer killed between writing
// and renaming left beside path. Call it holding path's lock: a writer
// holding it may be about to rename its own.
func RemoveTemps(path string) {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base+TempSuffix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
