//go:build windows

package lockedfile

import "syscall"

// openFlags: Windows' equivalent of O_NOFOLLOW. With
// FILE_FLAG_OPEN_REPARSE_POINT (which os.OpenFile passes on to CreateFile)
// a symbolic link or junction is opened itself, not its target, and the
// regular-file check that follows refuses it. Windows has no FIFOs in the
// file system that an open could block on.
const openFlags = syscall.FILE_FLAG_OPEN_REPARSE_POINT
