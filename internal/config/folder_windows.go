//go:build windows

package config

import (
	"io/fs"
	"syscall"
)

// checkOwner accepts every folder on Windows: access there is an ACL, and
// a folder under %USERPROFILE% is private to its user by default.
func checkOwner(string, fs.FileInfo) error { return nil }

// linkKind names what fi (from Lstat) is when it is a reparse point: a
// junction, a mount point or a symbolic link all redirect what is opened
// through them.
func linkKind(fi fs.FileInfo) string {
	if d, ok := fi.Sys().(*syscall.Win32FileAttributeData); ok && d.FileAttributes&syscall.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		return "a junction, mount point or symbolic link (a reparse point)"
	}
	if fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0 {
		return "a junction, mount point or symbolic link (a reparse point)"
	}
	return ""
}
