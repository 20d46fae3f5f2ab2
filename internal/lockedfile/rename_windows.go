//go:build windows

package lockedfile

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// Rename is os.Rename, retried briefly: on Windows, antivirus and
// indexers open freshly written files and make MoveFileEx fail with a
// sharing violation for a few milliseconds.
func Rename(from, to string) error {
	var err error
	for delay := time.Millisecond; delay < 100*time.Millisecond; delay *= 2 {
		if err = os.Rename(from, to); err == nil || !retryable(err) {
			return err
		}
		time.Sleep(delay)
	}
	return err
}

const (
	errorAccessDenied     syscall.Errno = 5
	errorSharingViolation syscall.Errno = 32
)

func retryable(err error) bool {
	return errors.Is(err, errorAccessDenied) || errors.Is(err, errorSharingViolation)
}
