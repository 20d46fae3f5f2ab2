//go:build !windows

package lockedfile

import (
	"io/fs"
	"syscall"
)

// fileID is the inode: a rename replaces it even within one clock tick.
func fileID(fi fs.FileInfo) any {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return nil
}

// stampsContent: a write in place keeps the file and its size, and where
// timestamps are coarse (FAT's 2 s, HFS+'s 1 s) only the content shows a
// busy queue of writers from a stuck one.
const stampsContent = true
