//go:build !windows

package machinepolicy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/pace-cli/pace/internal/lockedfile"
)

// readFile reads the policy file at path with parse. When no file is
// there it costs one failed open, as pace's every run pays it.
func readFile(path string, parse func(string, []byte) Policy) Policy {
	f, err := lockedfile.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return Policy{Source: path}
	}
	if f != nil {
		defer f.Close()
	}
	// The folders first: a file in a folder any user could write to may
	// have been put there by any user, whatever the file looks like.
	if why, lerr := checkFolders(filepath.Dir(path)); why != "" {
		return Policy{Source: path, Found: true, Ignored: why}
	} else if lerr != nil {
		return unreadable(path, lerr)
	}
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.Is(err, lockedfile.ErrNotRegular):
			if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return unreadable(path, fmt.Errorf("%s %v", path, errLink))
			}
		case errors.Is(err, fs.ErrPermission):
			return unreadable(path, fmt.Errorf("this user may not read it (%v): make it readable by everyone (chmod 644 %s); a policy holds no secret", err, path))
		case errors.As(err, &pe):
			err = pe.Err
		}
		return unreadable(path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return unreadable(path, err)
	}
	if why := writableByOthers(path, fi); why != "" {
		return Policy{Source: path, Found: true, Ignored: why}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return unreadable(path, err)
	}
	if len(data) > maxSize {
		return unreadable(path, fmt.Errorf("larger than %d KiB: a policy is a few lines", maxSize>>10))
	}
	return parse(path, data)
}

// checkFolders checks each folder from the root down to dir: every one
// must belong to an administrator and be writable by administrators
// alone (why says which is not, and how to fix it). A symbolic link among
// them is not followed (err): only an administrator could have made it,
// since its parent passed the check, so the policy then counts as off.
func checkFolders(dir string) (why string, err error) {
	var chain []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		chain = append(chain, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		fi, err := os.Lstat(chain[i])
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("the folder %s %v", chain[i], errLink)
		}
		if why := writableByOthers(chain[i], fi); why != "" {
			return why, nil
		}
	}
	return "", nil
}

// writableByOthers says how someone other than an administrator could
// write path (owned by another user than root, or writable by a group
// other than root's, or by everyone), or "" when no one could.
func writableByOthers(path string, fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid != 0:
		return fmt.Sprintf("%s belongs to uid %d, not to root, so that user could have written the policy: run 'chown root %s' (and check what it says)", path, st.Uid, path)
	case perm&0o002 != 0:
		return fmt.Sprintf("every user may write %s (mode %04o), so any of them could have written the policy: run 'chmod go-w %s' (and check what it says)", path, perm, path)
	case perm&0o020 != 0 && !adminGroup(st.Gid):
		return fmt.Sprintf("the group %d may write %s (mode %04o), so any of its members could have written the policy: run 'chmod g-w %s' (and check what it says)", st.Gid, path, perm, path)
	}
	return ""
}

// adminGroup tells whether members of the group gid are administrators:
// root's group (root, or wheel on BSD and macOS), and admin on macOS.
func adminGroup(gid uint32) bool {
	return gid == 0 || runtime.GOOS == "darwin" && gid == 80
}
