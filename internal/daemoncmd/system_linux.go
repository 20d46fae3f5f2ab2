//go:build linux

package daemoncmd

import "os/exec"

// newManager prefers systemd wherever systemctl is installed: only systemd
// has per-user services, and the library otherwise guesses from PID 1,
// which says nothing of a user's own manager. Where systemd does not run,
// systemctl says so in its own words.
func newManager(system bool) manager {
	if _, err := exec.LookPath("systemctl"); err == nil {
		return systemd{system: system}
	}
	return library{system: system}
}

// refuseSystemInstall: machine-wide services run as the folder's owner here.
func refuseSystemInstall() error { return nil }
