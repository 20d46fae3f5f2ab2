//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// winePolicy is the machine-wide policy on Windows, under wine (run by
// TestWindowsUnderWine, in its prefix): the HKLM key Group Policy writes,
// set with `reg add`, as pace.exe and pace-telemetryd.exe read it.
func winePolicy(t *testing.T, wineCmd func(...string) *exec.Cmd, dir string, r *receiver) {
	const key = `HKLM\SOFTWARE\Policies\PACE\pace`
	reg := func(args ...string) {
		t.Helper()
		if b, err := wineCmd(append([]string{"reg"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("reg %v: %v\n%s", args, err, b)
		}
	}
	n := 0
	// newFolder is a config folder of its own, as Linux and Windows name it.
	newFolder := func() (string, string) {
		n++
		f := filepath.Join(dir, "policy", strings.Repeat("p", n))
		os.MkdirAll(filepath.Dir(f), 0o700)
		return f, `Z:` + strings.ReplaceAll(f, "/", `\`)
	}
	run := func(win string, prog string, args ...string) (int, string) {
		t.Helper()
		cmd := wineCmd(append([]string{filepath.Join(dir, prog)}, args...)...)
		cmd.Env = append(cmd.Env, "PACE_CONFIG_PATH="+win, "PACE_TELEMETRY_NOTICE=off")
		out, err := cmd.Output()
		return exitCode(err), string(out)
	}
	type status struct {
		Mode, Reason string
		Policy       struct {
			Source, Telemetry, Error string
			Found, InEffect          bool
		}
	}
	statusOf := func(win string) status {
		t.Helper()
		code, out := run(win, "pace.exe", "telemetry", "status", "-o", "json")
		var st status
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("pace.exe telemetry status -o json: %d %s", code, out)
		}
		return st
	}
	counted := func() bool {
		f, win := newFolder()
		if code, _ := run(win, "pace.exe", "version"); code != 0 {
			t.Fatalf("pace.exe version exited %d under the policy", code)
		}
		_, err := os.Stat(filepath.Join(f, "telemetry.yaml"))
		return err == nil
	}

	_, win := newFolder()
	if st := statusOf(win); st.Policy.Found || st.Policy.Source != key || st.Mode != "on" || !counted() {
		t.Fatalf("no policy key: %+v", st)
	}

	reg("add", key, "/v", "Telemetry", "/t", "REG_SZ", "/d", "off", "/f")
	if st := statusOf(win); st.Mode != "off" || !strings.Contains(st.Reason, "the machine's policy "+key+" sets telemetry: off") || counted() {
		t.Fatalf("Telemetry=off: %+v", st)
	}
	if code, out := run(win, "pace.exe", "telemetry", "enable"); code != 1 {
		t.Fatalf("enable under Telemetry=off: exit %d %s", code, out)
	}

	reg("add", key, "/v", "Telemetry", "/t", "REG_SZ", "/d", "local", "/f")
	if st := statusOf(win); st.Mode != "local" || st.Policy.Telemetry != "local" || !counted() {
		t.Fatalf("Telemetry=local: %+v", st)
	}

	// A redirect: flush delivers to the policy's receiver, not to the
	// --endpoint given (which nothing listens on).
	reg("delete", key, "/v", "Telemetry", "/f")
	reg("add", key, "/v", "TelemetryEndpoint", "/t", "REG_SZ", "/d", r.url, "/f")
	f, fwin := newFolder()
	run(fwin, "pace.exe", "version")
	before := r.counts(t)["version 0"]
	if code, out := run(fwin, "pace-telemetryd.exe", "flush", "--endpoint", "http://127.0.0.1:1/"); code != 0 || !strings.Contains(out, "Delivered to "+r.url) {
		t.Fatalf("flush under TelemetryEndpoint: %d %s", code, out)
	}
	if got := r.counts(t)["version 0"]; got != before+want(t, f)["version 0"] && got != want(t, f)["version 0"] {
		t.Fatalf("the policy's receiver has version=%d", got)
	}

	// Bad values count as off, and say why.
	for _, c := range []struct {
		args []string
		why  string
	}{
		{[]string{"/v", "Telemetry", "/t", "REG_DWORD", "/d", "0"}, "must be a string (REG_SZ)"},
		{[]string{"/v", "Telemetri", "/t", "REG_SZ", "/d", "off"}, `unknown setting "Telemetri"`},
		{[]string{"/v", "TelemetryEndpoint", "/t", "REG_SZ", "/d", "http://telemetry.corp.example/"}, "http is allowed only to this machine"},
	} {
		reg("delete", key, "/f")
		reg(append([]string{"add", key}, append(c.args, "/f")...)...)
		if st := statusOf(win); st.Mode != "off" || !strings.Contains(st.Policy.Error, c.why) || counted() {
			t.Fatalf("%v: %+v, want off with %q", c.args, st, c.why)
		}
	}
	reg("delete", key, "/f")
	if st := statusOf(win); st.Mode != "on" || st.Policy.Found {
		t.Fatalf("after the key is deleted: %+v", st)
	}
}
