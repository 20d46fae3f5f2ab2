//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// interrupt starts bin with args, waits until ready says the command is
// under way, sends sig and returns the exit code and how long the process
// took to go after the signal.
func interrupt(t *testing.T, bin, dir string, env []string, ready func(), sig syscall.Signal, args ...string) (int, time.Duration, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PACE_CONFIG_PATH=" + dir, "PATH=" + os.Getenv("PATH"), "PACE_TELEMETRY_NOTICE=off"}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready()
	start := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(start)
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("%v: %v", args, err)
	}
	if !ee.Exited() {
		t.Fatalf("pace died of %v instead of exiting", ee.Sys())
	}
	return ee.ExitCode(), took, stderr.String()
}

// A command the user gives up on is counted as 128+n and exits so, within
// 100 ms of the signal.
func TestInterruptedCommandsAreCounted(t *testing.T) {
	dir := t.TempDir()
	accepted := hangingPlatform(t, dir)
	waitConnected := func() {
		select {
		case <-accepted:
			time.Sleep(20 * time.Millisecond) // pgx is now waiting for the server's answer
		case <-time.After(10 * time.Second):
			t.Fatal("pace never connected to the platform")
		}
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}, {syscall.SIGHUP, 129}} {
		code, took, stderr := interrupt(t, paceBin, dir, nil, waitConnected, tc.sig, "list", "tables", "-p", "pg")
		t.Logf("%v: exit %d, %v after the signal", tc.sig, code, took)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.sig, code, tc.code, stderr)
		}
		if took > 100*time.Millisecond {
			t.Errorf("%v: pace took %v to go, want at most 100 ms", tc.sig, took)
		}
		if got := load(t, dir)["pace list tables"][tc.code]; got != 1 {
			t.Errorf("%v: counted %d times as %d, want once", tc.sig, got, tc.code)
		}
	}
}

// A command deaf to its cancellation is not waited for: the run is counted
// and pace exits after the grace period; a second signal does not wait for
// even that.
func TestInterruptDoesNotWaitForACommandThatHangs(t *testing.T) {
	bin := crashBin(t)
	dir := t.TempDir()
	hang := []string{"PACE_CRASHTEST_HANG=1"}
	settle := func() { time.Sleep(300 * time.Millisecond) }
	code, took, _ := interrupt(t, bin, dir, hang, settle, syscall.SIGINT, "version")
	t.Logf("SIGINT to a hanging command: exit %d after %v", code, took)
	if code != 130 || took > 100*time.Millisecond {
		t.Errorf("exit %d after %v, want 130 within 100 ms", code, took)
	}
	if got := load(t, dir)["pace version"][130]; got != 1 {
		t.Errorf("counted %d times as 130, want once", got)
	}
}

// Recording on the way out never waits long for the lock: with the lock
// held by someone else, pace still goes at once, and the run is not
// counted rather than late.
func TestInterruptDoesNotWaitForTheLock(t *testing.T) {
	dir := t.TempDir()
	accepted := hangingPlatform(t, dir)
	if r := pace(t, dir, nil, "version"); r.code != 0 { // make the file
		t.Fatal(r)
	}
	lock := flock.New(filepath.Join(dir, "telemetry.yaml.lock"))
	if err := lock.Lock(); err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	code, took, _ := interrupt(t, paceBin, dir, nil, func() { <-accepted; time.Sleep(20 * time.Millisecond) }, syscall.SIGTERM, "list", "tables", "-p", "pg")
	t.Logf("SIGTERM with the lock held: exit %d after %v", code, took)
	if code != 143 || took > 150*time.Millisecond {
		t.Errorf("exit %d after %v, want 143 within 150 ms", code, took)
	}
	lock.Unlock()
	if got := load(t, dir)["pace list tables"][143]; got != 0 {
		t.Errorf("counted %d times though the lock was held", got)
	}
}

// A run started with SIGHUP ignored (nohup) keeps ignoring it.
func TestIgnoredSignalsStayIgnored(t *testing.T) {
	dir := t.TempDir()
	accepted := hangingPlatform(t, dir)
	cmd := exec.Command("sh", "-c", `trap "" HUP; exec "$0" "$@"`, paceBin, "list", "tables", "-p", "pg")
	cmd.Env = []string{"PACE_CONFIG_PATH=" + dir, "PATH=" + os.Getenv("PATH"), "PACE_TELEMETRY_NOTICE=off"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-accepted
	time.Sleep(20 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Fatalf("pace under nohup: %v, want exit 143 from the SIGTERM after the ignored SIGHUP", err)
	}
	counts := load(t, dir)["pace list tables"]
	if counts[129] != 0 || counts[143] != 1 {
		t.Fatalf("counts %v, want only 143 once", counts)
	}
}
