//go:build linux

package main

import (
	"bytes"
	"debug/pe"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/testenv"
)

// TestWindowsUnderWine runs the Windows builds of pace and pace-telemetryd
// under wine: concurrent pace.exe keep every count (the lock and the
// replace-by-rename on Windows), and the daemon's flush and run upload to
// the receiver on loopback. wine's service manager cannot start a service
// (it runs them in an interactive session), so install is not tried.
func TestWindowsUnderWine(t *testing.T) {
	w := testenv.NewWine(t, map[string]string{"pace.exe": "../pace", "pace-telemetryd.exe": "."})
	dir, prefix, env := w.Dir, w.Prefix, w.Env
	wine := testenv.NeedTool(t, "wine")
	wineCmd := func(args ...string) *exec.Cmd {
		cmd := exec.Command(wine, args...)
		cmd.Env = env
		return cmd
	}
	// And lockedfile's Windows-only test, run below.
	testBin := filepath.Join(dir, "lockedfile.test.exe")
	build := exec.Command("go", "test", "-c", "-o", testBin, "../../internal/lockedfile")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build lockedfile's tests: %v\n%s", err, b)
	}

	// Edits that move the file aside while others wait for the lock.
	if b, err := wineCmd(testBin, "-test.run", "^TestEditMovesAsideWhileOthersWait$", "-test.v").CombinedOutput(); err != nil || !strings.Contains(string(b), "--- PASS: TestEditMovesAsideWhileOthersWait") {
		t.Fatalf("lockedfile's Windows test: %v\n%s", err, b)
	}

	folder := filepath.Join(dir, "pace config")
	winFolder := `Z:` + strings.ReplaceAll(folder, "/", `\`)
	env = append(env, "PACE_CONFIG_PATH="+winFolder)

	// 8 concurrent pace.exe, 5 runs each: every count kept.
	const procs, runs = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, procs*runs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < runs; i++ {
				if b, err := wineCmd(filepath.Join(dir, "pace.exe"), "version").CombinedOutput(); err != nil {
					errs <- fmt.Errorf("pace.exe version: %v\n%s", err, b)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := want(t, folder)["version 0"]; got != procs*runs {
		t.Fatalf("%d concurrent pace.exe × %d runs counted %d", procs, runs, got)
	}

	// A telemetry.yaml that cannot be read is moved aside, once, and
	// counting starts over, while other runs wait for the lock: on Windows
	// only a file no one has open can be renamed.
	bad := filepath.Join(dir, "bad config")
	os.Mkdir(bad, 0o700)
	garbage := []byte("{{{ this is : not: yaml")
	os.WriteFile(filepath.Join(bad, "telemetry.yaml"), garbage, 0o600)
	errs = make(chan error, procs*runs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < runs; i++ {
				cmd := wineCmd(filepath.Join(dir, "pace.exe"), "version")
				cmd.Env = append(slices.Clone(env), "PACE_CONFIG_PATH=Z:"+strings.ReplaceAll(bad, "/", `\`), "PACE_TELEMETRY_DEBUG=1")
				if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "pace telemetry: recorded") {
					errs <- fmt.Errorf("pace.exe version over a bad file: %v\n%s", err, b)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	aside, _ := filepath.Glob(filepath.Join(bad, "telemetry.yaml.corrupt-*"))
	if len(aside) != 1 {
		t.Fatalf("the bad file was not moved aside once: %v", aside)
	}
	if kept, _ := os.ReadFile(aside[0]); !bytes.Equal(kept, garbage) {
		t.Fatalf("the file moved aside holds %q", kept)
	}
	if got := want(t, bad)["version 0"]; got != procs*runs {
		t.Fatalf("after the bad file, version counted %d times, want %d", got, procs*runs)
	}

	// The first-run notice fits a Windows console of 30 and of 200
	// columns (wine's console on a pty from script(1)).
	script := testenv.NeedTool(t, "script")
	for _, cols := range []int{30, 200} {
		noticeDir := `Z:` + strings.ReplaceAll(filepath.Join(dir, fmt.Sprintf("notice %d", cols)), "/", `\`)
		cmd := exec.Command(script, "-qec", fmt.Sprintf("stty cols %d; %s %s version >/dev/null", cols, wine, filepath.Join(dir, "pace.exe")), "/dev/null")
		cmd.Env = append(slices.Clone(env), "PACE_CONFIG_PATH="+noticeDir, "TERM=dumb")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("script: %v\n%s", err, out)
		}
		testenv.CheckNotice(t, string(out), cols, noticeDir+`\telemetry.yaml`)
	}

	// A panic on Windows: Go's report on stderr, exit 70, the run and its
	// crash site counted, the panic's text nowhere in the file. (Ctrl+C and
	// Ctrl+Break run on the Windows runner: wine's console cannot send
	// them to another process.)
	crashExe := filepath.Join(dir, "pace-crash.exe")
	if b, err := os.ReadFile(servertest.Program(t, "../pace", servertest.Env("GOOS=windows", "GOARCH=amd64"), servertest.Tags("crashtest"))); err != nil || os.WriteFile(crashExe, b, 0o755) != nil {
		t.Fatalf("crashtest pace.exe: %v", err)
	}
	crashDir := filepath.Join(dir, "crash config")
	crash := wineCmd(crashExe, "version")
	crash.Env = append(slices.Clone(env), "PACE_CONFIG_PATH="+testenv.Path(crashDir), "PACE_CRASHTEST_PANIC=s3cr3t", "PACE_TELEMETRY_NOTICE=off")
	out, err := crash.CombinedOutput()
	if exitCode(err) != 70 || !strings.Contains(string(out), "panic: s3cr3t") {
		t.Fatalf("crashing pace.exe: %v\n%s", err, out)
	}
	if got := want(t, crashDir)["version 70"]; got != 1 {
		t.Fatalf("the crashed run counted %d times", got)
	}
	if b, _ := os.ReadFile(filepath.Join(crashDir, "telemetry.yaml")); !strings.Contains(string(b), "internal/cli.crashTest:+") || strings.Contains(string(b), "s3cr3t") {
		t.Fatalf("telemetry.yaml after a crash on Windows:\n%s", b)
	}

	// No machine-wide service on Windows: it would run as LocalSystem on
	// a folder the user can write. Said, with what to do instead.
	out, err = wineCmd(filepath.Join(dir, "pace-telemetryd.exe"), "install", "--system").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "refused on Windows") || !strings.Contains(string(out), "'pace-telemetryd install'") {
		t.Fatalf("install --system: %v\n%s", err, out)
	}

	r := startReceiver(t)
	out, err = wineCmd(filepath.Join(dir, "pace-telemetryd.exe"), "flush", "--endpoint", r.url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Delivered") {
		t.Fatalf("flush: %v\n%s", err, out)
	}
	if !equal(r.counts(t), want(t, folder)) {
		t.Fatalf("after flush the receiver has %v, want %v", r.counts(t), want(t, folder))
	}

	run := wineCmd(filepath.Join(dir, "pace-telemetryd.exe"), "run", "--endpoint", r.url, "--debounce=0", "--telemetry-upload-interval-seconds=0")
	log := &servertest.SyncBuffer{}
	run.Stdout, run.Stderr = log, log
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Process.Kill(); run.Wait() })
	testenv.EventuallyWithin(t, 60*time.Second, "the daemon to watch", func() bool { return strings.Contains(log.String(), "watching") })
	if b, err := wineCmd(filepath.Join(dir, "pace.exe"), "version").CombinedOutput(); err != nil {
		t.Fatalf("pace.exe version: %v\n%s", err, b)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pace-telemetryd.exe run said:\n%s", log.String())
		}
	})
	testenv.EventuallyWithin(t, 60*time.Second, "run to upload a new count", func() bool { return equal(r.counts(t), want(t, folder)) })
	if got := r.counts(t)["version 0"]; got != procs*runs+1 {
		t.Fatalf("receiver has version=%d, want %d\n%s", got, procs*runs+1, log.String())
	}
	run.Process.Kill()
	run.Wait()

	wineUploader(t, wineCmd, dir, prefix, folder, winFolder, r)
	wineHardLink(t, wineCmd, dir)
}

// wineUploader is the per-user uploader's life under wine: install writes
// the user's Run value naming a windowless copy of the program; a logon
// (plain wineboot runs the Run values) starts it, and it uploads; a second
// copy is refused; a kill -9 of the uploader is followed by a new one
// within seconds (its supervisor's restart), which uploads; restart; a
// kill -9 of the supervisor leaves the uploader stoppable; stop makes its
// last upload; exit 3 is not restarted; uninstall leaves nothing.
func wineUploader(t *testing.T, wineCmd func(...string) *exec.Cmd, dir, prefix, folder, winFolder string, r *receiver) {
	exe := filepath.Join(dir, "pace-telemetryd.exe")
	// Output into a file, not a pipe: under wine a process that start
	// spawns inherits start's Unix descriptors, and would hold a pipe open
	// (on Windows it gets only the handles it is given).
	d := func(args ...string) (string, error) {
		f, err := os.CreateTemp(dir, "out")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := wineCmd(append([]string{exe}, args...)...)
		cmd.Stdout, cmd.Stderr = f, f
		err = cmd.Run()
		out, _ := os.ReadFile(f.Name())
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := d(args...)
		if err != nil {
			t.Fatalf("pace-telemetryd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	type status struct {
		Service   struct{ State, Manager, Detail string }
		Installed string
	}
	state := func() status {
		t.Helper()
		var s status
		if err := json.Unmarshal([]byte(must("status", "-o", "json")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	pid := func(s status) string {
		_, p, _ := strings.Cut(s.Service.Detail, "pid ")
		p, _, _ = strings.Cut(p, ":")
		return p
	}
	runKey := `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(prefix, "drive_c", "users", "*", "AppData", "Local", "pace-telemetryd", "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
		}
	})

	// A Run value holds at most 260 characters: a longer command is
	// refused, saying what to shorten, and nothing is written.
	if out, err := d("install", "--endpoint", "https://t.example/"+strings.Repeat("x", 200)); err == nil || !strings.Contains(out, "more than the 260 a Run value holds") {
		t.Fatalf("install of a long command: %v\n%s", err, out)
	}
	if q, err := wineCmd("reg", "query", runKey, "/v", "pace-telemetryd").CombinedOutput(); err == nil {
		t.Fatalf("a refused install wrote the Run value:\n%s", q)
	}

	// A long debounce: after its first upload at start, the uploader sends
	// nothing more until it is stopped.
	out := must("install", "--endpoint", r.url, "--debounce=1h", "--telemetry-upload-interval-seconds=0")
	if !strings.Contains(out, "install: done (windows-logon)") || !strings.Contains(out, `AppData\Local\pace-telemetryd\pace-telemetryd.exe run --config-path`) {
		t.Fatalf("install said:\n%s", out)
	}
	q, err := wineCmd("reg", "query", runKey, "/v", "pace-telemetryd").CombinedOutput()
	if err != nil || !strings.Contains(string(q), `AppData\Local\pace-telemetryd\pace-telemetryd.exe run --config-path "`+winFolder+`"`) {
		t.Fatalf("the Run value: %v\n%s", err, q)
	}
	// The copy is the user's own and windowless (GUI subsystem): no
	// console window at logon.
	copies, _ := filepath.Glob(filepath.Join(prefix, "drive_c", "users", "*", "AppData", "Local", "pace-telemetryd", "pace-telemetryd.exe"))
	if len(copies) != 1 {
		t.Fatalf("the program copy: %v", copies)
	}
	if f, err := pe.Open(copies[0]); err != nil || f.OptionalHeader.(*pe.OptionalHeader64).Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_GUI {
		t.Fatalf("the copy is not windowless: %v", err)
	}
	if s := state(); s.Service.State != "stopped" || s.Service.Manager != "windows-logon" || !strings.HasPrefix(s.Installed, "run --config-path") {
		t.Fatalf("status after install: %+v", s)
	}

	// A logon: the Run value starts the uploader, which delivers the
	// counts of every pace.exe run so far.
	if b, err := wineCmd(filepath.Join(dir, "pace.exe"), "version").CombinedOutput(); err != nil {
		t.Fatalf("pace.exe version: %v\n%s", err, b)
	}
	// Not into a pipe: what the Run value starts inherits wineboot's
	// output, and would hold the pipe open (a real logon has none).
	if err := wineCmd("wineboot").Run(); err != nil {
		t.Fatalf("wineboot (a logon): %v", err)
	}
	testenv.EventuallyWithin(t, 60*time.Second, "the uploader started at logon to deliver", func() bool { return equal(r.counts(t), want(t, folder)) })
	s := state()
	first := pid(s)
	if s.Service.State != "running" || first == "" {
		t.Fatalf("status after logon: %+v", s)
	}
	// The Run value starts a supervisor, which runs the uploader.
	sup, child := uploaders(winFolder)
	if len(sup) != 1 || len(child) != 1 {
		t.Fatalf("after logon, supervisor %v and uploader %v", sup, child)
	}
	// Never a second copy: start says it runs, a run by hand exits 3, and
	// so does a second supervisor (a second logon).
	if out, err := d("start"); err == nil || !strings.Contains(out, "already running (pid "+first+")") {
		t.Fatalf("start while running: %v\n%s", err, out)
	}
	if out, err := d("run", "--config-path", winFolder); exitCode(err) != 3 || !strings.Contains(out, "already running") {
		t.Fatalf("a second run: %v\n%s", err, out)
	}
	if err := wineCmd(copies[0], "run", "--config-path", winFolder).Run(); exitCode(err) != 3 {
		t.Fatalf("a second supervisor: %v", err)
	}

	// A crash (kill -9 of the uploader's process): its supervisor starts
	// it again 5 s later, and the new one delivers what was counted since.
	if err := syscall.Kill(child[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Meanwhile status says so (or, sampled late, shows the new one).
	if s := state(); s.Service.State != "restarting after a failure" && (s.Service.State != "running" || pid(s) == first) {
		t.Fatalf("status just after the kill -9: %+v", s)
	} else {
		t.Logf("status %v after the kill -9: %s", time.Since(killed).Round(100*time.Millisecond), s.Service.State)
	}
	if b, err := wineCmd(filepath.Join(dir, "pace.exe"), "version").CombinedOutput(); err != nil {
		t.Fatalf("pace.exe version: %v\n%s", err, b)
	}
	testenv.EventuallyWithin(t, 15*time.Second, "a new uploader after a kill -9", func() bool {
		s := state()
		return s.Service.State == "running" && pid(s) != first
	})
	t.Logf("a new uploader %v after the kill -9", time.Since(killed).Round(100*time.Millisecond))
	testenv.EventuallyWithin(t, 30*time.Second, "the new uploader to deliver", func() bool { return equal(r.counts(t), want(t, folder)) })
	if sup2, child2 := uploaders(winFolder); !slices.Equal(sup2, sup) || len(child2) != 1 || child2[0] == child[0] {
		t.Fatalf("after the kill -9 of %d under %v: supervisor %v, uploader %v", child[0], sup, sup2, child2)
	}
	second := pid(state())

	// restart: a new process.
	must("restart")
	s = state()
	if s.Service.State != "running" || pid(s) == "" || pid(s) == second {
		t.Fatalf("pid across restart (was %s): %+v", second, s)
	}

	// A kill -9 of the supervisor leaves the uploader running, and stop
	// still stops it.
	sup, child = uploaders(winFolder)
	if len(sup) != 1 || len(child) != 1 {
		t.Fatalf("after restart, supervisor %v and uploader %v", sup, child)
	}
	if err := syscall.Kill(sup[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyWithin(t, 10*time.Second, "the supervisor to go", func() bool { s, _ := uploaders(winFolder); return len(s) == 0 })
	if _, c := uploaders(winFolder); !slices.Equal(c, child) {
		t.Fatalf("after the kill -9 of its supervisor, the uploader %v is now %v", child, c)
	}
	if s2 := state(); s2.Service.State != "running" || pid(s2) != pid(s) {
		t.Fatalf("status after the kill -9 of the supervisor: %+v (was %+v)", s2, s)
	}

	// stop: its last upload arrives before stop returns, and neither the
	// uploader nor its supervisor is left.
	if b, err := wineCmd(filepath.Join(dir, "pace.exe"), "version").CombinedOutput(); err != nil {
		t.Fatalf("pace.exe version: %v\n%s", err, b)
	}
	if equal(r.counts(t), want(t, folder)) {
		t.Fatal("the new count was uploaded before the debounce")
	}
	must("stop")
	if got, w := r.counts(t), want(t, folder); !equal(got, w) {
		t.Fatalf("after stop the receiver has %v, want %v", got, w)
	}
	if s := state(); s.Service.State != "stopped" {
		t.Fatalf("status after stop: %+v", s)
	}
	if procs := processes(`pace-telemetryd.exe run --config-path ` + winFolder); len(procs) > 0 {
		t.Fatalf("processes left after stop: %v", procs)
	}

	// Exit 3 (another holds the folder's lock) is not restarted: the
	// supervisor exits 3 with it, and start says so. The lock is held
	// from Linux: wine takes LockFileEx's locks as fcntl locks too.
	lf, err := os.OpenFile(filepath.Join(folder, "telemetryd.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.FcntlFlock(lf.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK, Start: 0, Len: 1}); err != nil {
		t.Fatal(err)
	}
	if out, err := d("start"); err == nil || !strings.Contains(out, "stopped at once (exit status 3)") {
		t.Fatalf("start with the folder held: %v\n%s", err, out)
	}
	lf.Close()
	if s := state(); s.Service.State != "stopped" {
		t.Fatalf("status after a start refused with exit 3: %+v", s)
	}
	if procs := processes(`pace-telemetryd.exe run --config-path ` + winFolder); len(procs) > 0 {
		t.Fatalf("processes left after exit 3: %v", procs)
	}

	must("start")
	if s := state(); s.Service.State != "running" {
		t.Fatalf("status after start: %+v", s)
	}

	// uninstall: stopped, the value and the copy gone, no process left.
	must("uninstall")
	if q, err := wineCmd("reg", "query", runKey, "/v", "pace-telemetryd").CombinedOutput(); err == nil {
		t.Fatalf("the Run value is still there:\n%s", q)
	}
	if s := state(); s.Service.State != "not installed" {
		t.Fatalf("status after uninstall: %+v", s)
	}
	if _, err := os.Stat(copies[0]); err == nil {
		t.Error("the program copy is still there")
	}
	if procs := processes(`pace-telemetryd.exe run --config-path ` + winFolder); len(procs) > 0 {
		t.Fatalf("processes left: %v", procs)
	}

	// One step for the user: pace.exe telemetry enable --upload runs the
	// pace-telemetryd.exe beside it, which installs and starts the uploader.
	f, err := os.CreateTemp(dir, "out")
	if err != nil {
		t.Fatal(err)
	}
	enable := wineCmd(filepath.Join(dir, "pace.exe"), "telemetry", "enable", "--upload", "--endpoint", r.url)
	enable.Stdout, enable.Stderr = f, f
	err = enable.Run()
	f.Close()
	said, _ := os.ReadFile(f.Name())
	if err != nil || !strings.Contains(string(said), `runs as you, from each login on (a value in your Run key, HKCU\Software\Microsoft\Windows\CurrentVersion\Run), and is running now.`) ||
		!strings.Contains(string(said), "To undo: 'pace-telemetryd uninstall'") {
		t.Fatalf("pace.exe telemetry enable --upload: %v\n%s", err, said)
	}
	if s := state(); s.Service.State != "running" {
		t.Fatalf("status after enable --upload: %+v", s)
	}
	must("uninstall")
	if procs := processes(`pace-telemetryd.exe run --config-path ` + winFolder); len(procs) > 0 {
		t.Fatalf("processes left: %v", procs)
	}
}

// uploaders lists the Linux pids of the uploader's supervisor of the
// Windows folder winFolder and of the uploader it runs (--supervised).
func uploaders(winFolder string) (sup, child []int) {
	for _, c := range processes(`pace-telemetryd.exe run --config-path ` + winFolder) {
		pid, _ := strconv.Atoi(strings.TrimPrefix(filepath.Dir(c), "/proc/"))
		if b, _ := os.ReadFile(c); strings.Contains(string(b), "--supervised") {
			child = append(child, pid)
		} else {
			sup = append(sup, pid)
		}
	}
	return sup, child
}

// processes lists the /proc/<pid>/cmdline files that hold s (wine shows
// a Windows program's own command line there).
func processes(s string) []string {
	var found []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			found = append(found, c)
		}
	}
	return found
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// wineHardLink: a telemetry.yaml with a second name (a hard link to a
// file elsewhere) is neither counted into nor uploaded from, and the other
// file is unchanged. A junction cannot be planted under wine 8 (mklink /J
// says "Failed to open"; FSCTL_SET_REPARSE_POINT, "Request not
// supported"): internal/config's Windows test plants one on Windows.
func wineHardLink(t *testing.T, wineCmd func(...string) *exec.Cmd, dir string) {
	linked := filepath.Join(dir, "linked config")
	os.Mkdir(linked, 0o700)
	victim := filepath.Join(dir, "victim.yaml")
	os.WriteFile(victim, []byte("precious: true\n"), 0o600)
	if err := os.Link(victim, filepath.Join(linked, "telemetry.yaml")); err != nil {
		t.Fatal(err)
	}
	winLinked := "Z:" + strings.ReplaceAll(linked, "/", `\`)
	cmd := wineCmd(filepath.Join(dir, "pace.exe"), "version")
	cmd.Env = append(slices.Clone(cmd.Env), "PACE_CONFIG_PATH="+winLinked, "PACE_TELEMETRY_DEBUG=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "has more than one hard link") {
		t.Fatalf("pace.exe version over a hard-linked telemetry.yaml: %v\n%s", err, out)
	}
	out, err = wineCmd(filepath.Join(dir, "pace-telemetryd.exe"), "flush", "--config-path", winLinked, "--endpoint", "http://127.0.0.1:9/").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "has more than one hard link") {
		t.Fatalf("flush over a hard-linked telemetry.yaml: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious: true\n" {
		t.Fatalf("the linked file changed: %q", b)
	}
}
