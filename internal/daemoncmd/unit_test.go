package daemoncmd

import (
	"github.com/pace-cli/pace/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var hardArgs = []string{"run", "--config-path", "/home/a b/.config/pace", "--endpoint", "https://u:p%40ss@t.example/x?a=1%2F2&b=$HOME#%i", `--x="q\uote"`}

// The unit's ExecStart reads back as the words given: quotes, backslashes,
// % (systemd's specifiers) and $ (its variables) survive.
func TestUnitRoundTrip(t *testing.T) {
	spec := Spec{Exe: "/opt/pace %h/pace-telemetryd", Args: hardArgs}
	unit := systemdUnit(spec)
	words, err := parseExecStart(unit)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]string{spec.Exe}, spec.Args...); !reflect.DeepEqual(words, want) {
		t.Fatalf("read back %q\nwant %q\nunit:\n%s", words, want, unit)
	}
	for _, want := range []string{"WantedBy=default.target", "RestartPreventExitStatus=3", "Restart=on-failure", "RestartSec=5", "Type=exec"} {
		if !strings.Contains(unit, want+"\n") {
			t.Errorf("unit lacks %s:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "User=") {
		t.Errorf("a user unit names a User=:\n%s", unit)
	}
	system := systemdUnit(Spec{System: true, User: "alice", Exe: "/usr/bin/pace-telemetryd", Args: []string{"run"}})
	for _, want := range []string{"User=alice", "WantedBy=multi-user.target"} {
		if !strings.Contains(system, want+"\n") {
			t.Errorf("system unit lacks %s:\n%s", want, system)
		}
	}
}

// systemd itself reads the unit: what it expands from ExecStart is the
// words given (systemd-analyze, from Debian's systemd package, which
// scripts/test.sh installs).
func TestSystemdReadsTheUnit(t *testing.T) {
	analyze := testenv.NeedTool(t, "systemd-analyze")
	dir := t.TempDir()
	exe := filepath.Join(dir, "pace-telemetryd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, ServiceName+".service")
	if err := os.WriteFile(unit, []byte(systemdUnit(Spec{Exe: exe, Args: hardArgs})), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || strings.Contains(string(out), "Invalid") || strings.Contains(string(out), "bad-setting") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// launchd cannot run here: the plist is checked against its documented
// format, read by python's plistlib as launchd would read the keys.
func TestLaunchdPlist(t *testing.T) {
	spec := Spec{Exe: "/usr/local/bin/pace-telemetryd", Args: append(hardArgs, "<&>")}
	plist := launchdPlist(spec, "/Users/a")
	args, err := plistArguments([]byte(plist))
	if err != nil || !reflect.DeepEqual(args, spec.Args) {
		t.Fatalf("ProgramArguments %q, %v; want %q", args, err, spec.Args)
	}
	python := testenv.NeedTool(t, "python3")
	path := filepath.Join(t.TempDir(), "p.plist")
	os.WriteFile(path, []byte(plist), 0o644)
	out, err := exec.Command(python, "-c", `import plistlib,sys,json
p = plistlib.load(open(sys.argv[1], "rb"))
print(json.dumps([p["Label"], p["KeepAlive"], p["RunAtLoad"], p["ThrottleInterval"], p["StandardErrorPath"], p["ProgramArguments"][-1], "UserName" in p]))`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s", err, out)
	}
	want := `["io.github.pace-cli.pace-telemetryd", {"SuccessfulExit": false}, true, 5, "/Users/a/Library/Logs/pace-telemetryd.log", "<&>", false]`
	if strings.TrimSpace(string(out)) != want {
		t.Fatalf("plist reads as %s\nwant %s", out, want)
	}
	system := launchdPlist(Spec{System: true, User: "alice", Exe: "/x"}, "/var/root")
	if !strings.Contains(system, "<key>UserName</key>\n\t<string>alice</string>") || !strings.Contains(system, "/Library/Logs/pace-telemetryd.log") {
		t.Fatalf("system plist:\n%s", system)
	}
}
