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
