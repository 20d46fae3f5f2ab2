//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSystemctl puts a systemctl on PATH that records its calls and acts
// as a user manager would: is-active answers with $STATE.
func fakeSystemctl(t *testing.T, body string) (env []string, calls func() []string) {
	t.Helper()
	stub := t.TempDir()
	log := filepath.Join(stub, "calls")
	script := "#!/bin/sh\necho \"$*\" >> \"" + log + "\"\n" + body
	if err := os.WriteFile(filepath.Join(stub, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env = []string{"HOME=" + home, "PATH=" + stub + ":/usr/bin:/bin"}
	return env, func() []string {
		data, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
}

func daemonCmd(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin.daemon, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func contains(calls []string, want string) bool {
	for _, c := range calls {
		if c == want {
			return true
		}
	}
	return false
}

func TestInstallAUserUnit(t *testing.T) {
	env, calls := fakeSystemctl(t, `case "$1" in
--version) echo "systemd 252 (252.38-1~deb12u1)";;
is-active) echo "${STATE:-inactive}"; [ "${STATE:-}" = active ];;
list-unit-files) echo "pace-telemetryd.service enabled";;
esac
exit 0
`)
	home := strings.TrimPrefix(env[0], "HOME=")
	unit := filepath.Join(home, ".config", "systemd", "user", "pace-telemetryd.service")
	if code, out := daemonCmd(t, env, "install", "--endpoint", "https://t.example/"); code != 0 {
		t.Fatalf("install: %d %s", code, out)
	}
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"WantedBy=default.target",
		"RestartSec=5",
		"Restart=on-failure",
		`ExecStart=` + bin.daemon + ` "run" "--config-path" "` + filepath.Join(home, ".config", "pace") + `" "--endpoint" "https://t.example/"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{"multi-user.target", "RestartSec=120"} {
		if strings.Contains(text, bad) {
			t.Errorf("unit has %q:\n%s", bad, text)
		}
	}
	for _, want := range []string{"enable --user pace-telemetryd.service", "daemon-reload --user"} {
		if !contains(calls(), want) {
			t.Errorf("systemctl not called with %q: %q", want, calls())
		}
	}
	// A second install fails (it exists) and leaves the installed unit be.
	if code, out := daemonCmd(t, env, "install"); code == 0 || !strings.Contains(out, "already exists") {
		t.Fatalf("second install: %d %s", code, out)
	}
	if _, err := os.Stat(unit); err != nil {
		t.Fatalf("a failed second install removed the unit: %v", err)
	}
	if code, out := daemonCmd(t, env, "start"); code != 0 || !contains(calls(), "start --user pace-telemetryd.service") {
		t.Fatalf("start: %d %s %q", code, out, calls())
	}
	if code, out := daemonCmd(t, append(env, "STATE=active"), "status"); code != 0 || !strings.Contains(out, "service:      running (linux-systemd)") {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, out := daemonCmd(t, env, "status"); code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("status when stopped: %d %s", code, out)
	}
	if code, out := daemonCmd(t, env, "uninstall"); code != 0 {
		t.Fatalf("uninstall: %d %s", code, out)
	}
	if _, err := os.Stat(unit); !os.IsNotExist(err) {
		t.Fatal("uninstall left the unit file")
	}
	if !contains(calls(), "disable --user pace-telemetryd.service") {
		t.Fatalf("uninstall did not disable: %q", calls())
	}
}

// Where no service manager runs (a container, CI), systemctl fails: say so
// clearly, exit non-zero, and leave nothing half installed.
func TestInstallWithoutAServiceManager(t *testing.T) {
	env, _ := fakeSystemctl(t, `echo "Failed to connect to bus: No medium found" >&2; exit 1
`)
	home := strings.TrimPrefix(env[0], "HOME=")
	code, out := daemonCmd(t, env, "install")
	if code != 1 || !strings.Contains(out, "no service manager runs") || !strings.Contains(out, "pace-telemetryd run") {
		t.Fatalf("install: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "systemd", "user", "pace-telemetryd.service")); !os.IsNotExist(err) {
		t.Fatal("a failed install left its unit file")
	}
	// A second try fails the same way, not with "already exists".
	if _, out := daemonCmd(t, env, "install"); strings.Contains(out, "already exists") {
		t.Fatalf("second install: %s", out)
	}
}

func TestNoSystemctlAtAll(t *testing.T) {
	empty := t.TempDir()
	code, out := daemonCmd(t, []string{"HOME=" + t.TempDir(), "PATH=" + empty}, "install")
	if code != 1 || !strings.Contains(out, "per-user services need systemd") || !strings.Contains(out, "pace-telemetryd run") {
		t.Fatalf("install with no service manager: %d %s", code, out)
	}
}
