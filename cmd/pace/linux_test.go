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
	// As PACE's own CLI leaves a folder: no lock file, and none can be
	// made there, yet the counts can still be shown.
	os.Remove(filepath.Join(dir, "telemetry.yaml.lock"))
	want := pace(t, t.TempDir(), []string{"DO_NOT_TRACK=1"}, "version")
	// Bind the folder read-only over itself, then run pace twice, plain
	// and explaining, and show the counts.
	got := inMountNamespace(t, `mount --bind "$D" "$D"; mount -o remount,bind,ro "$D" "$D"
		"$PACE" version; echo "exit $?"
		PACE_TELEMETRY_DEBUG=1 "$PACE" version --nope 2>&1 || echo "exit $?"
		"$PACE" telemetry show 2>&1; echo "exit $?"`, "D="+dir, "PACE_CONFIG_PATH="+dir)
	wantOut := want.stdout + "exit 0\nError: unknown flag: --nope\n"
	if !strings.HasPrefix(got.stdout, wantOut) {
		t.Fatalf("on a read-only folder: stdout %q, want it to start %q (stderr %q)", got.stdout, wantOut, got.stderr)
	}
	if !strings.Contains(got.stdout, "read-only file system") || !strings.Contains(got.stdout, "exit 2\n") {
		t.Fatalf("the debug run does not explain or lost its exit code: %q", got.stdout)
	}
	if !strings.HasSuffix(got.stdout, "exit 2\n"+string(before)+"exit 0\n") {
		t.Fatalf("telemetry show did not print the file as it is: %q", got.stdout)
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

// A telemetry file its owner made read-only is still counted, as it
// always was (the folder is theirs, so the file is replaced): the count
// is not written over it. Run as another user, since root may write to
// any file.
func TestReadOnlyFileIsStillCounted(t *testing.T) {
	setpriv := need(t, "setpriv")
	const uid = "54321"
	// The binary and the folder must be reachable by that user.
	top := t.TempDir()
	os.Chmod(filepath.Dir(top), 0o755) // the test's own temporary folder
	os.Chmod(top, 0o755)
	bin := filepath.Join(top, "pace")
	data, err := os.ReadFile(paceBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "pace-config")
	os.Mkdir(dir, 0o700)
	pace(t, dir, nil, "version")
	file := filepath.Join(dir, "telemetry.yaml")
	for _, p := range []string{dir, file, file + ".lock"} {
		if err := os.Chown(p, 54321, 54321); err != nil {
			if testenv.Strict() {
				t.Fatalf("cannot give the folder to another user: %v", err)
			}
			t.Skipf("cannot give the folder to another user: %v", err)
		}
	}
	os.Chmod(file, 0o400)
	for i := 0; i < 2; i++ {
		cmd := exec.Command(setpriv, "--reuid="+uid, "--regid="+uid, "--clear-groups", bin, "version")
		cmd.Env = []string{"PACE_CONFIG_PATH=" + dir, "PACE_TELEMETRY_DEBUG=1"}
		if r := run(t, cmd); r.code != 0 || !strings.Contains(r.stderr, "pace telemetry: recorded") {
			t.Fatalf("run %d as the folder's owner: %+v", i, r)
		}
	}
	if n := load(t, dir)["pace version"][0]; n != 3 {
		t.Fatalf("pace version counted %d times, want 3", n)
	}
}
