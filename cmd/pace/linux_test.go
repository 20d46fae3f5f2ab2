//go:build linux

package main

import (
	"github.com/pace-cli/pace/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var need = testenv.NeedTool

// inMountNamespace runs script under sh in a private mount namespace, where
// the test may mount a small or read-only tmpfs: root ignores file
// permissions, so only a real read-only or full file system shows what
// pace does there.
func inMountNamespace(t *testing.T, script string, env ...string) result {
	t.Helper()
	need(t, "unshare")
	if probe := exec.Command("unshare", "-m", "true"); probe.Run() != nil {
		testenv.Unavailable(t, "cannot make a mount namespace (needs root)")
	}
	cmd := exec.Command("unshare", "-m", "sh", "-euc", script)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "PACE=" + paceBin}, env...)
	return run(t, cmd)
}

func TestReadOnlyFolder(t *testing.T) {
	dir := t.TempDir()
	pace(t, dir, nil, "version")
	before, _ := os.ReadFile(filepath.Join(dir, "telemetry.yaml"))
	want := pace(t, t.TempDir(), []string{"DO_NOT_TRACK=1"}, "version")
	// Bind the folder read-only over itself, then run pace twice: plain,
	// and explaining.
	got := inMountNamespace(t, `mount --bind "$D" "$D"; mount -o remount,bind,ro "$D" "$D"
		"$PACE" version; echo "exit $?"
		PACE_TELEMETRY_DEBUG=1 "$PACE" version --nope 2>&1 || echo "exit $?"`, "D="+dir, "PACE_CONFIG_PATH="+dir)
	wantOut := want.stdout + "exit 0\nError: unknown flag: --nope\n"
	if !strings.HasPrefix(got.stdout, wantOut) {
		t.Fatalf("on a read-only folder: stdout %q, want it to start %q (stderr %q)", got.stdout, wantOut, got.stderr)
	}
	if !strings.Contains(got.stdout, "read-only file system") || !strings.HasSuffix(got.stdout, "exit 2\n") {
		t.Fatalf("the debug run does not explain or lost its exit code: %q", got.stdout)
	}
	if got.stderr != "" {
		t.Fatalf("telemetry printed on stderr without being asked: %q", got.stderr)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "telemetry.yaml"))
	if string(after) != string(before) {
		t.Fatal("the file changed on a read-only folder")
	}
}

func TestFullDisk(t *testing.T) {
	need(t, "dd")
	mnt := t.TempDir()
	want := pace(t, t.TempDir(), []string{"DO_NOT_TRACK=1"}, "version")
	// A 256 KiB file system holding a telemetry file with 300 counters,
	// then filled to the last byte. Private (0700), as a config folder must
	// be: a tmpfs is 1777 by default, which pace refuses.
	seed := t.TempDir()
	pace(t, seed, nil, "version")
	writeCounters(t, seed, 300)
	got := inMountNamespace(t, `mount -t tmpfs -o size=256k,mode=0700 tmpfs "$M"
		cp "$SEED/telemetry.yaml" "$M/"
		dd if=/dev/zero of="$M/fill" bs=4k 2>/dev/null || true
		PACE_TELEMETRY_DEBUG=1 "$PACE" version 2>"$M/../debug" ; echo "exit $?"
		"$PACE" version; echo "exit $?"
		cmp "$SEED/telemetry.yaml" "$M/telemetry.yaml" && echo unchanged
		ls "$M"; cat "$M/../debug" >&2`, "M="+mnt, "SEED="+seed, "PACE_CONFIG_PATH="+mnt)
	wantOut := want.stdout + "exit 0\n" + want.stdout + "exit 0\nunchanged\nfill\ntelemetry.yaml\ntelemetry.yaml.lock\n"
	if got.stdout != wantOut {
		t.Fatalf("on a full disk: stdout %q, want %q (stderr %q)", got.stdout, wantOut, got.stderr)
	}
	if !strings.Contains(got.stderr, "no space left on device") {
		t.Fatalf("debug run does not explain: %q", got.stderr)
	}
}

// pace opens no socket: strace sees every system call of the process and
// its threads.
func TestNoSocketIsOpened(t *testing.T) {
	strace := need(t, "strace")
	dir := t.TempDir()
	pace(t, dir, nil, "version")
	for _, args := range [][]string{{"version"}, {"bogus"}, {"telemetry", "status"}, {"telemetry", "show", "--payload"}} {
		log := filepath.Join(t.TempDir(), "strace.log")
		cmd := exec.Command(strace, append([]string{"-f", "-qq", "-o", log, "-e", "trace=%network,openat,rename,renameat,renameat2", paceBin}, args...)...)
		cmd.Env = []string{"PACE_CONFIG_PATH=" + dir}
		cmd.Run() // bogus exits 2
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		trace := string(data)
		// The trace must show the file work, or strace saw nothing.
		if !strings.Contains(trace, "telemetry.yaml") {
			t.Fatalf("pace %v: strace did not trace the file access:\n%s", args, trace)
		}
		for _, call := range []string{"socket(", "connect(", "sendto(", "sendmsg(", "bind("} {
			if strings.Contains(trace, call) {
				t.Fatalf("pace %v made a network call %s:\n%s", args, call, trace)
			}
		}
	}
}
