//go:build !windows

package lockedfile

import "os"

// Rename is os.Rename; on Windows it retries briefly (rename_windows.go).
func Rename(from, to string) error { return os.Rename(from, to) }
