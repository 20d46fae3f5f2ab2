//go:build linux

package daemoncmd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pace-cli/pace/internal/lockedfile"
	"github.com/pace-cli/pace/internal/upload"
)

// systemd drives systemctl itself rather than through the service library,
// which drops systemctl's own message (so a missing unit, a missing
// XDG_RUNTIME_DIR and a bad unit all read alike) and does not stop a unit
// it uninstalls.
type systemd struct{ system bool }

func (s systemd) Platform() string {
	if s.system {
		return "systemd"
	}
	return "systemd --user"
}

func (s systemd) unitPath() (string, error) {
	if s.system {
		return "/etc/systemd/system/" + ServiceName + ".service", nil
	}
	// systemd's own user unit folder: $XDG_CONFIG_HOME/systemd/user.
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "systemd", "user", ServiceName+".service"), nil
}

// systemctl runs systemctl and keeps its own message in the error.
func (s systemd) systemctl(args ...string) (string, error) {
	if !s.system {
		args = append([]string{"--user"}, args...)
	}
	cmd := exec.Command("systemctl", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := upload.Sanitize(stderr.String(), 400)
		if msg == "" {
			msg = err.Error()
		}
		return stdout.String(), &systemctlError{args: args, msg: msg}
	}
	return stdout.String(), nil
}

type systemctlError struct {
	args []string
	msg  string
}

func (e *systemctlError) Error() string {
	msg := fmt.Sprintf("systemctl %s: %s", strings.Join(e.args, " "), e.msg)
	// Only where systemctl says no manager can be reached is the advice
	// about running without one.
	if strings.Contains(e.msg, "Failed to connect to bus") || strings.Contains(e.msg, "System has not been booted with systemd") || strings.Contains(e.msg, "not defined") {
		msg += "; no systemd manager is reachable (none runs in a container or CI; a user manager needs a login session or 'loginctl enable-linger'): " + noManager
	}
	return msg
}

func (s systemd) Install(spec Spec) error {
	unit, err := s.unitPath()
	if err != nil {
		return err
	}
	if _, err := os.Lstat(unit); err == nil {
		return fmt.Errorf("already installed (%s): run 'pace-telemetryd uninstall%s' first to change it", unit, s.flag())
	}
	if err := os.MkdirAll(filepath.Dir(unit), 0o755); err != nil {
		return err
	}
	// 0600: the endpoint in ExecStart may hold a token; only the manager
	// (running as its owner) needs to read the file.
	if err := lockedfile.Replace(unit, []byte(systemdUnit(spec)), 0o600); err != nil {
		return err
	}
	// Check the unit before enabling it: systemd says what it cannot read.
	if _, err := s.systemctl("daemon-reload"); err != nil {
		os.Remove(unit)
		return err
	}
	if out, _ := s.systemctl("show", "-p", "LoadState,LoadError", ServiceName+".service"); !strings.Contains(out, "LoadState=loaded") {
		os.Remove(unit)
		s.systemctl("daemon-reload")
		return fmt.Errorf("systemd cannot load the unit it was given (%s); nothing is installed", upload.Sanitize(strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "), 400))
	}
	if _, err := s.systemctl("enable", ServiceName+".service"); err != nil {
		s.systemctl("disable", ServiceName+".service")
		os.Remove(unit)
		s.systemctl("daemon-reload")
		return err
	}
	return nil
}

func (s systemd) flag() string {
	if s.system {
		return " --system"
	}
	return ""
}

func (s systemd) Uninstall() error {
	unit, err := s.unitPath()
	if err != nil {
		return err
	}
	if _, err := os.Lstat(unit); errors.Is(err, fs.ErrNotExist) {
		return errNotInstalled
	}
	// Stop first: a removed unit whose process lives on is not uninstalled.
	// stop waits for the last flush (bounded) and the exit.
	if _, err := s.systemctl("stop", ServiceName+".service"); err != nil {
		return err
	}
	if _, err := s.systemctl("disable", ServiceName+".service"); err != nil {
		return err
	}
	if err := os.Remove(unit); err != nil {
		return err
	}
	s.systemctl("reset-failed", ServiceName+".service") // forget a failed state; not there when none
	_, err = s.systemctl("daemon-reload")
	return err
}

func (s systemd) action(verb string) error {
	unit, err := s.unitPath()
	if err != nil {
		return err
	}
	if _, err := os.Lstat(unit); errors.Is(err, fs.ErrNotExist) {
		return errNotInstalled
	}
	_, err = s.systemctl(verb, ServiceName+".service")
	return err
}

// Start and Restart clear a failed state first: an explicit start after a
// failure (or many starts in a row, past systemd's start limit) should
// start, as it would after the fault is fixed.
func (s systemd) Start() error {
	s.systemctl("reset-failed", ServiceName+".service")
	return s.action("start")
}

func (s systemd) Stop() error { return s.action("stop") }

func (s systemd) Restart() error {
	s.systemctl("reset-failed", ServiceName+".service")
	return s.action("restart")
}

func (s systemd) Status() (Status, error) {
	unit, err := s.unitPath()
	if err != nil {
		return Status{State: Unknown}, err
	}
	if _, err := os.Lstat(unit); errors.Is(err, fs.ErrNotExist) {
		return Status{State: NotInstalled, Detail: s.Platform()}, nil
	}
	out, err := s.systemctl("show", "-p", "LoadState,ActiveState,SubState,Result,ExecMainStatus,NRestarts", ServiceName+".service")
	if err != nil {
		return Status{State: Unknown}, err
	}
	p := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			p[k] = v
		}
	}
	detail := s.Platform()
	exit := ""
	if p["ExecMainStatus"] != "" && p["ExecMainStatus"] != "0" {
		exit = ", exit status " + p["ExecMainStatus"]
	}
	switch {
	case p["LoadState"] == "not-found":
		return Status{State: NotInstalled, Detail: detail + "; the unit file is there but systemd has not loaded it: run 'systemctl" + map[bool]string{true: "", false: " --user"}[s.system] + " daemon-reload'"}, nil
	case p["LoadState"] != "loaded":
		return Status{State: Unknown, Detail: fmt.Sprintf("%s; unit %s", detail, p["LoadState"])}, nil
	case p["ActiveState"] == "active" && p["SubState"] == "running":
		return Status{State: Running, Detail: detail}, nil
	case p["SubState"] == "auto-restart" || p["ActiveState"] == "activating" && p["Result"] != "success":
		return Status{State: Restarting, Detail: fmt.Sprintf("%s; %s%s, %s restarts", detail, p["Result"], exit, p["NRestarts"])}, nil
	case p["ActiveState"] == "failed":
		return Status{State: Failed, Detail: fmt.Sprintf("%s; %s%s; see: journalctl%s -u %s", detail, p["Result"], exit, map[bool]string{true: "", false: " --user"}[s.system], ServiceName)}, nil
	case p["ActiveState"] == "inactive":
		return Status{State: Stopped, Detail: detail}, nil
	}
	return Status{State: Unknown, Detail: fmt.Sprintf("%s; %s/%s", detail, p["ActiveState"], p["SubState"])}, nil
}

func (s systemd) Installed() ([]string, error) {
	unit, err := s.unitPath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(unit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotInstalled
	}
	if err != nil {
		return nil, err
	}
	words, err := parseExecStart(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", unit, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%s: ExecStart is empty", unit)
	}
	return words[1:], nil
}
