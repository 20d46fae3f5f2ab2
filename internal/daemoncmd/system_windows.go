//go:build windows

package daemoncmd

import (
	"errors"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

// Windows has no services a user installs for themself (every service is
// machine-wide and needs an administrator), so the per-user uploader
// starts at logon from the user's Run key (logon_windows.go). --system
// drives a service an older version installed, to stop and remove it.
func newManager(system bool) manager {
	if !system {
		return logon{}
	}
	return library{system: true, options: windowsOptions, installed: windowsInstalled}
}

// refuseSystemInstall: a machine-wide service runs as LocalSystem (any
// other account would need its password kept by the service manager), and
// a LocalSystem process working in a folder its user can write is the
// junction redirection hole (CWE-1386). There is no machine-wide folder to
// give it instead: the counts are each user's, in their own config folder.
// So the per-user uploader, which needs no administrator, is the answer.
func refuseSystemInstall() error { return errSystemInstall }

var errSystemInstall = errors.New("refused on Windows: a machine-wide service would run as LocalSystem on a folder its user can write, which lets that user redirect its writes to any file with a junction; install the uploader for each user instead, without administrator rights: 'pace-telemetryd install' (it starts at logon; 'pace-telemetryd start' starts it now)")

func windowsOptions(cfg *service.Config, spec Spec) error {
	cfg.UserName = "" // LocalSystem; another account would need its password
	cfg.Option["OnFailure"] = "restart"
	cfg.Option["OnFailureDelayDuration"] = "5s"
	cfg.Option["OnFailureResetPeriod"] = 60
	return nil
}

func windowsInstalled(bool) ([]string, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, err
	}
	defer m.Disconnect()
	s, err := m.OpenService(ServiceName)
	if err != nil {
		return nil, errNotInstalled
	}
	defer s.Close()
	c, err := s.Config()
	if err != nil {
		return nil, err
	}
	words, err := windows.DecomposeCommandLine(c.BinaryPathName)
	if err != nil || len(words) == 0 {
		return nil, errors.New("the service's command line cannot be read")
	}
	return words[1:], nil
}
