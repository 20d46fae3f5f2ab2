//go:build linux

package main

import (
	"os"
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

func contains(calls []string, want string) bool {
	for _, c := range calls {
		if c == want {
			return true
		}
	}
	return false
}

// The message systemctl gives is kept: a missing user bus is not a bad
// unit, and a bad unit is not a missing manager.
func TestSystemctlsOwnMessageIsKept(t *testing.T) {
	env, calls := fakeSystemctl(t, `case "$1 $2" in
"--user daemon-reload") exit 0;;
"--user show") echo LoadState=bad-setting; echo "LoadError=org.freedesktop.systemd1.BadSetting \"Unit has a bad setting\""; exit 0;;
"--user stop") echo "Failed to stop pace-telemetryd.service: Unit pace-telemetryd.service not loaded." >&2; exit 5;;
esac
exit 0
`)
	home := strings.TrimPrefix(env[0], "HOME=")
	code, out := daemonCmd(t, env, "install")
	if code != 1 || !strings.Contains(out, "cannot load") || !strings.Contains(out, "bad-setting") || strings.Contains(out, "no systemd manager") {
		t.Fatalf("install of a unit systemd refuses: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "systemd", "user", "pace-telemetryd.service")); !os.IsNotExist(err) {
		t.Fatal("a refused unit was left installed")
	}
	if contains(calls(), "--user enable pace-telemetryd.service") {
		t.Fatalf("a unit systemd cannot load was enabled: %q", calls())
	}
	code, out = daemonCmd(t, env, "stop")
	if code != 1 || !strings.Contains(out, "not installed") {
		t.Fatalf("stop of nothing: %d %s", code, out)
	}
}

// Where no service manager runs (a container, CI), systemctl fails: say so
// clearly, exit non-zero, and leave nothing half installed.
func TestInstallWithoutAServiceManager(t *testing.T) {
	env, _ := fakeSystemctl(t, `echo "Failed to connect to bus: No medium found" >&2; exit 1
`)
	home := strings.TrimPrefix(env[0], "HOME=")
	code, out := daemonCmd(t, env, "install")
	if code != 1 || !strings.Contains(out, "Failed to connect to bus: No medium found") || !strings.Contains(out, "no systemd manager is reachable") || !strings.Contains(out, "pace-telemetryd run") {
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
