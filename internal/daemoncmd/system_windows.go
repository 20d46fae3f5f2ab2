//go:build windows

package daemoncmd

import (
	"errors"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

// Windows has no services a user installs for themself: every service is
// machine-wide and needs an administrator. So the per-user default is
// refused with what to do instead.
func newManager(system bool) manager {
	if !system {
		return noUserServices{}
	}
	return library{system: true, options: windowsOptions, installed: windowsInstalled}
}

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

var errNoUserServices = errors.New("Windows services are machine-wide: from an administrator prompt, run 'pace-telemetryd install --system' (and start, stop, status with --system); or " + noManager)

type noUserServices struct{}

func (noUserServices) Platform() string             { return "windows-service" }
func (noUserServices) Install(Spec) error           { return errNoUserServices }
func (noUserServices) Uninstall() error             { return errNoUserServices }
func (noUserServices) Start() error                 { return errNoUserServices }
func (noUserServices) Stop() error                  { return errNoUserServices }
func (noUserServices) Restart() error               { return errNoUserServices }
func (noUserServices) Installed() ([]string, error) { return nil, errNoUserServices }
func (noUserServices) Status() (Status, error) {
	return Status{State: NotInstalled, Detail: "no per-user services on Windows; see --system"}, nil
}
