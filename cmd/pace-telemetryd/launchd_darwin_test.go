//go:build darwin

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pace-cli/pace/internal/daemoncmd"
)

// TestLaunchdAgent runs the per-user uploader under the real launchd, in
// the gui/<uid> domain of the account running the test: install, start
// (it delivers the counts of pace runs to a receiver on loopback), kill -9
// (launchd starts it again: KeepAlive after a failure), restart, stop (its
// last upload arrives), uninstall (nothing left).
func TestLaunchdAgent(t *testing.T) {
	needRealService(t)
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	plist := filepath.Join(home, "Library", "LaunchAgents", daemoncmd.LaunchdLabel+".plist")
	if _, err := os.Stat(plist); err == nil {
		t.Fatalf("%s exists: this account has the uploader installed already", plist)
	}
	r := startReceiver(t)
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		runPace(t, dir, "version")
	}
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "USER=" + os.Getenv("USER")}
	ctl := func(args ...string) string {
		t.Helper()
		code, out := daemonCmd(t, env, args...)
		if code != 0 {
			t.Fatalf("pace-telemetryd %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	t.Cleanup(func() {
		daemonCmd(t, env, "uninstall")
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(home, "Library", "Logs", "pace-telemetryd.log"))
			t.Logf("the agent's log:\n%s", log)
		}
	})
	// A long debounce: after its upload at start, the agent sends nothing
	// more until it is stopped.
	ctl("install", "--config-path", dir, "--endpoint", r.url, "--debounce=1h", "--telemetry-upload-interval-seconds=0")
	if _, err := os.Stat(plist); err != nil {
		t.Fatal(err)
	}
	ctl("start")
	domain := fmt.Sprintf("gui/%d/%s", os.Getuid(), daemoncmd.LaunchdLabel)
	if out, err := exec.Command("launchctl", "print", domain).CombinedOutput(); err != nil {
		t.Fatalf("launchctl print %s: %v\n%s", domain, err, out)
	}
	first := 0
	settle(t, "the agent to run", func() bool { first = agentPid(t); return first > 0 })
	settle(t, "the counts to arrive", func() bool { return equal(r.counts(t), want(t, dir)) })

	// kill -9: a failure, so launchd starts it again.
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := 0
	settle(t, "launchd to start the killed agent again", func() bool { second = agentPid(t); return second > 0 && second != first })

	ctl("restart")
	third := 0
	settle(t, "the agent to run after restart", func() bool { third = agentPid(t); return third > 0 && third != second })

	// stop: the last upload arrives.
	runPace(t, dir, "version")
	ctl("stop")
	if got, w := r.counts(t), want(t, dir); !equal(got, w) {
		t.Fatalf("after stop the receiver has %v, want %v", got, w)
	}
	if alive(third) {
		t.Fatalf("pid %d still runs after stop", third)
	}

	ctl("uninstall")
	if _, err := os.Stat(plist); err == nil {
		t.Fatal("the plist is still there")
	}
	if out, err := exec.Command("launchctl", "print", domain).CombinedOutput(); err == nil {
		t.Fatalf("launchd still knows the agent:\n%s", out)
	}
}

var launchdPid = regexp.MustCompile(`"PID" = ([0-9]+);`)

// agentPid is the running agent's process id, or 0.
func agentPid(t *testing.T) int {
	out, _ := exec.Command("launchctl", "list", daemoncmd.LaunchdLabel).CombinedOutput()
	m := launchdPid.FindSubmatch(out)
	if m == nil {
		return 0
	}
	pid, _ := strconv.Atoi(string(m[1]))
	return pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }
