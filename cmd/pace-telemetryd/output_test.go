package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/upload"
)

// A release build stamps the version and the default endpoint (as
// .goreleaser.yaml does); both programs report them the same way, and
// pace-telemetryd never prints the endpoint's secret.
func TestStampedVersionAndEndpoint(t *testing.T) {
	const pkg = "github.com/pace-cli/pace/internal/build"
	ldflags := "-X " + pkg + ".version=v9.8.7 -X " + pkg + ".endpoint=https://user:hunter2@telemetry.example/ingest"
	prog := map[string]string{}
	for p, src := range map[string]string{"pace": "../pace", "pace-telemetryd": "."} {
		prog[p] = servertest.Program(t, src, servertest.Flags("-trimpath"), servertest.LDFlags(ldflags), servertest.Env("CGO_ENABLED=0"))
	}
	env := []string{"PACE_CONFIG_PATH=" + t.TempDir(), "PACE_TELEMETRY_NOTICE=off"}
	want := "pace-telemetryd version v9.8.7 (" + runtime.GOOS + "/" + runtime.GOARCH + ", " + runtime.Version() + ")\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		cmd := exec.Command(prog["pace-telemetryd"], args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil || string(out) != want {
			t.Fatalf("stamped %v: %q %v, want %q", args, out, err, want)
		}
	}
	cmd := exec.Command(prog["pace-telemetryd"], "version", "-o", "json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(out, &v); err != nil || v["program"] != "pace-telemetryd" || v["version"] != "v9.8.7" ||
		!strings.HasPrefix(v["default_endpoint"], "https://") || !strings.Contains(v["default_endpoint"], "telemetry.example/ingest") || strings.Contains(string(out), "hunter2") {
		t.Fatalf("version -o json: %s (%v)", out, err)
	}
	// The daemon uses the stamped endpoint when nothing else is set.
	cmd = exec.Command(prog["pace-telemetryd"], "status", "-o", "json")
	cmd.Env = env
	out, err = cmd.Output()
	if err != nil || !strings.Contains(string(out), `"endpoint_from": "built in"`) || !strings.Contains(string(out), "telemetry.example/ingest") || strings.Contains(string(out), "hunter2") {
		t.Fatalf("status of a stamped build: %s %v", out, err)
	}
	cmd = exec.Command(prog["pace"], "--version")
	cmd.Env = env
	if out, err := cmd.Output(); err != nil || !strings.HasPrefix(string(out), "pace version v9.8.7 (") {
		t.Fatalf("pace --version: %q %v", out, err)
	}
}

func TestStatusJSONAndPlainErrors(t *testing.T) {
	dir := t.TempDir()
	runPace(t, dir, "version")
	at := time.Date(2026, 11, 25, 4, 44, 17, 0, time.UTC)
	if err := (upload.State{LastSuccess: at, LastAttempt: at, Failures: 0}).Save(dir); err != nil {
		t.Fatal(err)
	}
	env := []string{"PACE_CONFIG_PATH=" + dir, "HOME=" + t.TempDir()}
	code, out := daemonCmd(t, env, "status", "-o", "json", "--endpoint", "https://t.example/", "--telemetry-upload-interval-seconds", "60")
	var st struct {
		Service struct {
			State, Manager, Detail string
		} `json:"service"`
		Endpoint        string     `json:"endpoint"`
		EndpointFrom    string     `json:"endpoint_from"`
		Mode            string     `json:"mode"`
		IntervalSeconds int        `json:"interval_seconds"`
		Uploads         bool       `json:"uploads"`
		LastUpload      *time.Time `json:"last_upload"`
		Pending         string     `json:"pending"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status -o json: %d %s", code, out)
	}
	if st.Service.State == "" || st.Endpoint != "https://t.example/" || st.EndpointFrom != "--endpoint" || st.Mode != "on" ||
		st.IntervalSeconds != 60 || !st.Uploads || st.LastUpload == nil || !st.LastUpload.Equal(at) || st.Pending != "yes: 1 counter not yet delivered as it is now" {
		t.Fatalf("status -o json: %+v\n%s", st, out)
	}
	// As text, the mode's reason on a line of its own: it has parentheses
	// of its own.
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("telemetry-mode: local\n"), 0o600)
	if code, out := daemonCmd(t, env, "status"); code != 0 ||
		!regexp.MustCompile(`(?m)^mode:\s+local\nmode set by:\s+telemetry-mode: local in config.yaml \(pace telemetry local\)\n`).MatchString(out) {
		t.Fatalf("status: %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--debounce", "5"}, `--debounce "5" is not a duration with a unit; for example --debounce 30s`},
		{[]string{"run", "--telemetry-upload-interval-seconds", "hourly"}, `--telemetry-upload-interval-seconds "hourly" is not a whole number`},
		{[]string{"status", "-o", "table"}, `-o "table" is not a format: use yaml or json`},
		{[]string{"flush", "now"}, `unknown command "now" for "pace-telemetryd flush"`},
	} {
		code, out := daemonCmd(t, env, c.args...)
		if code != 2 || !strings.Contains(out, c.want) || strings.Contains(out, "strconv") || strings.Contains(out, "time: ") {
			t.Errorf("%v: %d %q, want %q", c.args, code, out, c.want)
		}
	}
}
