//go:build windows

package daemoncmd

import (
	"golang.org/x/sys/windows"

	"github.com/pace-cli/pace/internal/config"
)

// needAdmin: the service control manager says "Access is denied" to
// others; say what to do before that.
func needAdmin() error {
	if !windows.GetCurrentProcessToken().IsElevated() {
		return errNotElevated
	}
	return nil
}

var errNotElevated = errorString("a Windows service is installed and controlled by an administrator: run this from an administrator prompt")

type errorString string

func (e errorString) Error() string { return string(e) }

// folderOwner: the service runs as LocalSystem (another account would need
// its password); files it creates in the folder inherit the folder's
// permissions, so their owner can read them.
func folderOwner(string, config.Getenv) (string, error) { return "", nil }
