//go:build !windows

package daemoncmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/pace-cli/pace/internal/config"
)

// needAdmin: a machine-wide service is installed and controlled by root.
func needAdmin() error {
	if os.Geteuid() != 0 {
		return errors.New("a machine-wide service needs root: run it with sudo (the service still runs as the owner of the config folder); without --system, pace-telemetryd installs a per-user service")
	}
	return nil
}

// folderOwner is the account a machine-wide service runs as: the owner of
// the config folder, or when it does not exist yet, the user who ran sudo,
// else the owner of its nearest existing parent. "" means root.
func folderOwner(dir string, getenv config.Getenv) (string, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if name := getenv("SUDO_USER"); name != "" {
			return rootless(name), nil
		}
		for parent := filepath.Dir(dir); ; parent = filepath.Dir(parent) {
			if fi, err = os.Stat(parent); err == nil || parent == filepath.Dir(parent) {
				break
			}
		}
	}
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", nil
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil {
		return "", fmt.Errorf("the config folder's owner (uid %d) has no account: %v", st.Uid, err)
	}
	return rootless(u.Username), nil
}

func rootless(name string) string {
	if name == "root" {
		return ""
	}
	return name
}
