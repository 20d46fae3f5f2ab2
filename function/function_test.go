package function

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The package's init is the whole Cloud Functions entry: this test binary
// ran it. Run again as a child with a given environment, it shows what a
// cold start does with it.
func startWith(t *testing.T, env ...string) (exit int, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var buf strings.Builder
	cmd.Stderr = &buf
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), buf.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, buf.String()
}

// A bad configuration fails the start loudly: one CRITICAL line naming the
// variable and what it wants, then exit 1.
func TestBadConfigurationFailsTheStart(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"TELEMETRY_SINK=udp://127.0.0.1:2003", "TELEMETRY_SINK"},
		{"TELEMETRY_TIMEOUT=soon", "TELEMETRY_TIMEOUT"},
		{"TELEMETRY_SINK=postgres://pace@127.0.0.1:1/telemetry", "TELEMETRY_ID_KEY is not set"},
	} {
		code, stderr := startWith(t, tc.env)
		var line struct{ Severity, Message string }
		if code != 1 || json.Unmarshal([]byte(strings.TrimSpace(stderr)), &line) != nil || line.Severity != "CRITICAL" || !strings.Contains(line.Message, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and one CRITICAL line saying %q", tc.env, code, stderr, tc.want)
		}
	}
}

// Registering opens nothing: a database that cannot be reached does not
// stop the start (its first request gets 503, package receiver's tests).
func TestStartOpensNothing(t *testing.T) {
	code, stderr := startWith(t, "TELEMETRY_SINK=postgres://pace@127.0.0.1:1/telemetry?connect_timeout=1", "TELEMETRY_ID_KEY=0123456789abcdef0123456789abcdef")
	if code != 0 || strings.Contains(stderr, "CRITICAL") {
		t.Fatalf("exit %d, stderr %q; want a clean start", code, stderr)
	}
}
