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

// rollBackInstall removes what a failed install left: the unit file and
// the enablement link that systemctl can make even without a running
// manager.
func rollBackInstall(system bool) {
	dir := "/etc/systemd/system"
	wants := "multi-user.target.wants"
	if !system {
		home, err := os.UserHomeDir()
		if err != nil {
			return
		}
		dir, wants = filepath.Join(home, ".config", "systemd", "user"), "default.target.wants"
	}
	os.Remove(filepath.Join(dir, wants, ServiceName+".service"))
	os.Remove(filepath.Join(dir, ServiceName+".service"))
}
