package main

import (
	"encoding/json"
	"os/exec"
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
			Uploader struct{ Program, Service string } `json:"uploader"`
		}
		if err != nil || json.Unmarshal(out, &st) != nil {
			t.Fatalf("pace telemetry status -o json: %v\n%s", err, out)
		}
		return st.Uploader.Program, st.Uploader.Service
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
