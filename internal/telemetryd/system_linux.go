//go:build linux

package telemetryd

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/kardianos/service"
)

var chooseOnce sync.Once

// chooseSystem prefers systemd wherever systemctl is installed: only
// systemd has per-user services, and the library otherwise guesses from
// PID 1 and /run/systemd, which say nothing about a user's own manager and
// are absent in containers. Where systemd does not run, systemctl then
// fails with a message that explain turns into advice.
func chooseSystem() {
	chooseOnce.Do(func() {
		if _, err := exec.LookPath("systemctl"); err != nil {
			return
		}
		for _, s := range service.AvailableSystems() {
			if s.String() == "linux-systemd" {
				service.ChooseSystem(detected{s})
				return
			}
		}
	})
}

// detected makes the library take a system it would not detect itself.
type detected struct{ service.System }

func (detected) Detect() bool { return true }

// unitPaths are the unit file and its enablement link.
func unitPaths(system bool) (unit, link string) {
	dir, wants := "/etc/systemd/system", "multi-user.target.wants"
	if !system {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", ""
		}
		dir, wants = filepath.Join(home, ".config", "systemd", "user"), "default.target.wants"
	}
	return filepath.Join(dir, ServiceName+".service"), filepath.Join(dir, wants, ServiceName+".service")
}

// unitExists tells whether a unit is installed already: a failed second
// install must not remove it.
func unitExists(system bool) bool {
	unit, _ := unitPaths(system)
	_, err := os.Lstat(unit)
	return unit != "" && err == nil
}

// rollBackInstall removes what a failed install left: the unit file and
// the enablement link that systemctl can make even without a running
// manager.
func rollBackInstall(system bool) {
	unit, link := unitPaths(system)
	if unit == "" {
		return
	}
	os.Remove(link)
	os.Remove(unit)
}
