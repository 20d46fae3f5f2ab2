package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/function/servertest"
)

// crashBin is pace built with the tag crashtest, whose commands panic with
// PACE_CRASHTEST_PANIC's text (internal/cli/crashtest_on.go).
func crashBin(t *testing.T) string {
	t.Helper()
	return servertest.Program(t, ".", servertest.Tags("crashtest"))
}

func crashPace(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(crashBin(t), args...)
	cmd.Env = append([]string{"PACE_CONFIG_PATH=" + dir, "PATH=" + os.Getenv("PATH"), "PACE_TELEMETRY_NOTICE=off"}, env...)
	return run(t, cmd)
}

// crashSites reads the crash_sites section of the telemetry file.
func crashSites(t *testing.T, dir string) map[string]map[string]uint64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "telemetry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		CrashSites map[string]map[string]struct {
			N uint64 `yaml:"cumulative_count"`
		} `yaml:"crash_sites"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]uint64{}
	for path, sites := range f.CrashSites {
		out[path] = map[string]uint64{}
		for site, p := range sites {
			out[path][site] = p.N
		}
	}
	return out
}

// A panic is printed as Go prints it, ends the run with 70 and is counted
// with its site; the panic's text, which could be anything of the user's,
// is nowhere in what pace keeps.
func TestPanicIsCountedWithItsSiteAndNothingElse(t *testing.T) {
	dir := t.TempDir()
	const secret = "s3cr3t-token /home/alice/policy.yaml alice@example.com"
	for i := 1; i <= 2; i++ {
		r := crashPace(t, dir, []string{"PACE_CRASHTEST_PANIC=" + secret}, "list", "processing-platforms", "-o", "json")
		if r.code != 70 {
			t.Fatalf("exit %d, want 70 (stderr %q)", r.code, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "panic: "+secret+"\n\ngoroutine ") || !strings.Contains(r.stderr, "internal/cli.crashTest(") {
			t.Fatalf("stderr is not Go's panic report:\n%s", r.stderr)
		}
		if r.stdout != "" {
			t.Fatalf("stdout %q", r.stdout)
		}
		if got := load(t, dir)["pace list processing-platforms"][70]; got != uint64(i) {
			t.Fatalf("run %d: pace list processing-platforms counted %d times with 70", i, got)
		}
	}
	sites := crashSites(t, dir)["pace list processing-platforms"]
	if len(sites) != 1 {
		t.Fatalf("crash sites %v, want one", sites)
	}
	for site, n := range sites {
		if n != 2 || !strings.HasPrefix(site, "internal/cli.crashTest:+") || !strings.Contains(site, " internal/cli.newRoot.func") {
			t.Errorf("site %q counted %d, want internal/cli.crashTest:+N internal/cli.newRoot.func…, twice", site, n)
		}
	}
	// Every frame names a function on the receiver's allow-list.
	list, err := os.ReadFile("../../function/receiver/crashfunctions.txt")
	if err != nil {
		t.Fatal(err)
	}
	for site := range sites {
		for frame := range strings.SplitSeq(site, " ") {
			fn, _, err := payload.ParseCrashFrame(frame)
			if err != nil || !strings.Contains(string(list), "\n"+payload.CrashFunctionBase(fn)+"\n") {
				t.Errorf("frame %q: %v; its function is not on crashfunctions.txt", frame, err)
			}
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "telemetry.yaml"))
	for _, leak := range []string{"s3cr3t", "alice", "/home", ".go", "github.com"} {
		if strings.Contains(string(data), leak) {
			t.Errorf("telemetry.yaml holds %q:\n%s", leak, data)
		}
	}
	// The next ordinary run still counts, and keeps the sites.
	if r := pace(t, dir, nil, "version"); r.code != 0 {
		t.Fatalf("pace version: %+v", r)
	}
	if got := load(t, dir)["pace version"][0]; got != 1 {
		t.Fatalf("pace version counted %d", got)
	}
	if len(crashSites(t, dir)["pace list processing-platforms"]) != 1 {
		t.Fatal("an ordinary run lost the crash sites")
	}
	// pace telemetry show lists them, and --payload, what the daemon
	// sends, carries them.
	r := pace(t, dir, nil, "telemetry", "show", "-o", "json")
	var shown struct {
		CrashSites map[string]map[string]struct {
			N uint64 `json:"cumulative_count"`
		} `json:"crash_sites"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || len(shown.CrashSites["pace list processing-platforms"]) != 1 {
		t.Fatalf("telemetry show -o json: %v\n%s", err, r.stdout)
	}
	if r := pace(t, dir, nil, "telemetry", "show", "--payload"); r.code != 0 || !strings.Contains(r.stdout, `"crash_sites":{"pace list processing-platforms":{"internal/cli.crashTest:+`) {
		t.Fatalf("telemetry show --payload: %+v", r)
	}
}

// Only a build with the tag crashtest obeys PACE_CRASHTEST_PANIC.
func TestReleaseBuildIgnoresTheCrashTest(t *testing.T) {
	dir := t.TempDir()
	r := pace(t, dir, []string{"PACE_CRASHTEST_PANIC=boom", "PACE_CRASHTEST_HANG=1"}, "version")
	if r.code != 0 || strings.Contains(r.stderr, "panic") {
		t.Fatalf("pace without the tag crashtest: %+v", r)
	}
	if len(crashSites(t, dir)) != 0 {
		t.Fatal("a crash site was counted")
	}
}

// hangingPlatform is a processing platform that accepts connections and
// never answers: pace list tables against it hangs until its connect
// timeout. accepted receives each connection.
func hangingPlatform(t *testing.T, dir string) (accepted chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			accepted <- c
		}
	}()
	cfg := fmt.Sprintf("processing_platforms:\n  - id: pg\n    type: postgres\n    dsn: postgres://pace@%s/db?sslmode=disable\n", ln.Addr())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return accepted
}
