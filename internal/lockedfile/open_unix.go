//go:build !windows

package lockedfile

import (
	"io/fs"
	"os"
	"syscall"
)

// openFlags make every open refuse a symbolic link at the last element
// (ELOOP) and return at once on a FIFO or device instead of waiting for a
// peer; the regular-file check that follows then refuses those.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// fileLinks is the number of names of the open file f.
func fileLinks(_ *os.File, fi fs.FileInfo) uint32 { return pathLinks("", fi) }

// pathLinks is the number of names of the file fi describes.
func pathLinks(_ string, fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint32(st.Nlink)
	}
	return 1
}
