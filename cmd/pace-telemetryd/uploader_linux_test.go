package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `pace telemetry status` reports the uploader as pace-telemetryd (beside
// pace) sees its service: not installed, then running once installed and
// active (systemctl is a stand-in here; the real systemd run is the
// service tests').
func TestPaceStatusShowsTheUploadersService(t *testing.T) {
	env, _ := fakeSystemctl(t, `case "$1 $2" in
"--user show")
	if [ -e "$HOME/.config/systemd/user/pace-telemetryd.service" ]; then echo LoadState=loaded; else echo LoadState=not-found; fi
	if [ "${STATE:-}" = active ]; then echo ActiveState=active; echo SubState=running; else echo ActiveState=inactive; echo SubState=dead; fi
	echo Result=success;;
esac
exit 0
`)
	dir := t.TempDir()
	env = append(env, "PACE_CONFIG_PATH="+dir, "PACE_TELEMETRY_NOTICE=off")
	service := func(extra ...string) (program, state string) {
		t.Helper()
		cmd := exec.Command(bin.pace, "telemetry", "status", "-o", "json")
		cmd.Env = append(env, extra...)
		out, err := cmd.Output()
		var st struct {
			Uploader struct {
				Program string
				Service struct{ State string }
			} `json:"uploader"`
		}
		if err != nil || json.Unmarshal(out, &st) != nil {
			t.Fatalf("pace telemetry status -o json: %v\n%s", err, out)
		}
		return st.Uploader.Program, st.Uploader.Service.State
	}
	if p, s := service(); p != bin.daemon || s != "not installed" {
		t.Fatalf("before install: %q %q", p, s)
	}
	if code, out := daemonCmd(t, env, "install", "--endpoint", "https://t.example/"); code != 0 {
		t.Fatalf("install: %d %s", code, out)
	}
	if _, s := service(); s != "stopped" {
		t.Fatalf("installed, inactive: %q", s)
	}
	if _, s := service("STATE=active"); s != "running" {
		t.Fatalf("installed, active: %q", s)
	}
}

// `pace telemetry enable --upload` is one step: counting on, the uploader
// installed for this user (a systemd user unit on the config folder, with
// the endpoint given) and started; it says what it did and how to undo
// it. Before, `pace telemetry status` says that nothing will upload the
// counts; after, it does not. (systemctl is a stand-in; the real systemd
// run of install and start is the service tests'.)
func TestEnableUploadSetsUpTheUploader(t *testing.T) {
	env, calls := fakeSystemctl(t, `case "$1 $2" in
"--user show")
	if [ -e "$HOME/.config/systemd/user/pace-telemetryd.service" ]; then echo LoadState=loaded; else echo LoadState=not-found; fi
	if [ -e "$HOME/started" ]; then echo ActiveState=active; echo SubState=running; else echo ActiveState=inactive; echo SubState=dead; fi
	echo Result=success;;
"--user restart") touch "$HOME/started";;
esac
exit 0
`)
	home := strings.TrimPrefix(env[0], "HOME=")
	dir := t.TempDir()
	env = append(env, "PACE_CONFIG_PATH="+dir, "PACE_TELEMETRY_NOTICE=off")
	pace := func(args ...string) (int, string) {
		t.Helper()
		return runProgram(t, env, bin.pace, args...)
	}
	pace("telemetry", "disable")
	pace("version")
	if _, out := pace("telemetry", "enable"); strings.Contains(out, "uploads:") {
		t.Fatalf("enable said more than it did:\n%s", out)
	}
	pace("version")
	if _, out := pace("telemetry", "status"); !strings.Contains(out, "uploads:      none: the counts are kept, but nothing will upload them (the uploader is not installed as a service; no endpoint is set") {
		t.Fatalf("status before --upload:\n%s", out)
	}
	if code, out := pace("telemetry", "enable", "--endpoint", "https://t.example/"); code != 2 || !strings.Contains(out, "--endpoint is for --upload") {
		t.Fatalf("--endpoint without --upload: %d\n%s", code, out)
	}

	code, out := pace("telemetry", "enable", "--upload", "--endpoint", "https://t.example/")
	if code != 0 {
		t.Fatalf("enable --upload: %d\n%s", code, out)
	}
	for _, want := range []string{
		"Saved telemetry-mode: on",
		"Set up the uploader: " + bin.daemon + " runs as you, from each login on (a systemd user unit), and is running now.",
		"It uploads the counts in " + filepath.Join(dir, "telemetry.yaml") + " to https://t.example/ (upload at most every 1h0m0s).",
		"To undo: 'pace-telemetryd uninstall' stops and removes it; 'pace telemetry local' keeps counting and uploads nothing.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("enable --upload does not say %q:\n%s", want, out)
		}
	}
	unit, err := os.ReadFile(filepath.Join(home, ".config", "systemd", "user", "pace-telemetryd.service"))
	if err != nil || !strings.Contains(string(unit), `ExecStart="`+bin.daemon+`" "run" "--config-path" "`+dir+`" "--endpoint" "https://t.example/"`) {
		t.Fatalf("the unit: %v\n%s", err, unit)
	}
	if c := calls(); !contains(c, "--user enable pace-telemetryd.service") || !contains(c, "--user restart pace-telemetryd.service") {
		t.Errorf("systemctl calls: %q", c)
	}
	if _, out := pace("telemetry", "status"); strings.Contains(out, "uploads:") || !strings.Contains(out, "service:      running") {
		t.Fatalf("status after --upload:\n%s", out)
	}
	// Telemetry kept off by the environment: nothing is installed.
	os.Remove(filepath.Join(home, ".config", "systemd", "user", "pace-telemetryd.service"))
	cmd := exec.Command(bin.pace, "telemetry", "enable", "--upload")
	cmd.Env = append(env, "DO_NOT_TRACK=1")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "the uploader was not set up: telemetry is off") {
		t.Fatalf("enable --upload under DO_NOT_TRACK: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "systemd", "user", "pace-telemetryd.service")); err == nil {
		t.Fatal("installed under DO_NOT_TRACK")
	}
}
