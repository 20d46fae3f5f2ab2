//go:build !windows

package lockedfile

import "syscall"

// openFlags make every open refuse a symbolic link at the last element
// (ELOOP) and return at once on a FIFO or device instead of waiting for a
// peer; the regular-file check that follows then refuses those.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
