//go:build !windows

package config

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a folder another user owns or others may write to:
// they could replace pace's files, or plant links and special files in it.
// Root is not exempt: root writing into a user's folder leaves files the
// user cannot change.
func checkOwner(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int64(st.Uid) != int64(uid) {
		return &UnsafeFolderError{Dir: dir,
			Why: fmt.Sprintf("it belongs to uid %d, not to you (uid %d)", st.Uid, uid),
			Fix: "use a folder of your own (PACE_CONFIG_PATH), or have its owner give it to you"}
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return &UnsafeFolderError{Dir: dir,
			Why: fmt.Sprintf("others may write to it (mode %04o)", perm),
			Fix: fmt.Sprintf("run 'chmod go-w %s'", dir)}
	}
	return nil
}

// linkKind names what fi is when it is a symbolic link, else "".
func linkKind(fi fs.FileInfo) string {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return "a symbolic link"
	}
	return ""
}
