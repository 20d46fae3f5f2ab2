//go:build windows

package lockedfile

import (
	"io/fs"
	"os"
	"syscall"
)

// openFlags: Windows' equivalent of O_NOFOLLOW. With
// FILE_FLAG_OPEN_REPARSE_POINT (which os.OpenFile passes on to CreateFile)
// a symbolic link or junction is opened itself, not its target, and the
// regular-file check that follows refuses it. Windows has no FIFOs in the
// file system that an open could block on.
const openFlags = syscall.FILE_FLAG_OPEN_REPARSE_POINT

// fileLinks is the number of names of the open file f (NTFS hard links).
func fileLinks(f *os.File, _ fs.FileInfo) uint32 {
	var d syscall.ByHandleFileInformation
	if err := syscall.GetFileInformationByHandle(syscall.Handle(f.Fd()), &d); err != nil {
		return 1
	}
	return d.NumberOfLinks
}

// pathLinks opens path with no access rights, which shares with every
// other open and lock, to read its number of names.
func pathLinks(path string, _ fs.FileInfo) uint32 {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return 1
	}
	h, err := syscall.CreateFile(p, 0, syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE, nil,
		syscall.OPEN_EXISTING, syscall.FILE_FLAG_OPEN_REPARSE_POINT|syscall.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return 1
	}
	defer syscall.CloseHandle(h)
	var d syscall.ByHandleFileInformation
	if err := syscall.GetFileInformationByHandle(h, &d); err != nil {
		return 1
	}
	return d.NumberOfLinks
}
