//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/internal/testenv"
)

// TestWindowsUnderWine runs the Windows builds of pace and pace-telemetryd
// under wine: concurrent pace.exe keep every count (the lock and the
// replace-by-rename on Windows), and the daemon's flush and run upload to
// the receiver on loopback. wine's service manager cannot start a service
// (it runs them in an interactive session), so install is not tried.
func TestWindowsUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a wine prefix; not with -short")
	}
	wine := testenv.NeedTool(t, "wine")
	gcc := testenv.NeedTool(t, "x86_64-w64-mingw32-gcc")
	dir := t.TempDir()
	for out, pkg := range map[string]string{"pace.exe": "../pace", "pace-telemetryd.exe": "."} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	// And lockedfile's Windows-only test, run below.
	testBin := filepath.Join(dir, "lockedfile.test.exe")
	build := exec.Command("go", "test", "-c", "-o", testBin, "../../internal/lockedfile")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build lockedfile's tests: %v\n%s", err, b)
	}
	// Go 1.26 needs ProcessPrng from bcryptprimitives.dll, which wine 8
	// lacks: a stand-in calls RtlGenRandom.
	src := filepath.Join(dir, "bcryptprimitives.c")
	os.WriteFile(src, []byte(`#include <windows.h>
typedef BOOLEAN (WINAPI *gen)(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	static gen fn = NULL;
	if (!fn) fn = (gen)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
	while (len > 0) {
		ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
		if (!fn(data, n)) return FALSE;
		data += n; len -= n;
	}
	return TRUE;
}
`), 0o644)
	dll := filepath.Join(dir, "bcryptprimitives.dll")
	if b, err := exec.Command(gcc, "-shared", "-o", dll, src).CombinedOutput(); err != nil {
		t.Fatalf("stand-in DLL: %v\n%s", err, b)
	}
	prefix := filepath.Join(dir, "prefix")
	env := append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
	wineCmd := func(args ...string) *exec.Cmd {
		cmd := exec.Command(wine, args...)
		cmd.Env = env
		return cmd
	}
	boot := wineCmd("wineboot", "-i")
	if b, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("wineboot: %v\n%s", err, b)
	}
	t.Cleanup(func() { c := exec.Command("wineserver", "-k"); c.Env = env; c.Run() })
	sys32 := filepath.Join(prefix, "drive_c", "windows", "system32")
	data, _ := os.ReadFile(dll)
	if err := os.WriteFile(filepath.Join(sys32, "bcryptprimitives.dll"), data, 0o644); err != nil {
		t.Fatal(err)
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

	// No per-user services on Windows: said, with what to do.
	out, err := wineCmd(filepath.Join(dir, "pace-telemetryd.exe"), "install").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "machine-wide") || !strings.Contains(string(out), "install --system") {
		t.Fatalf("install without --system: %v\n%s", err, out)
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
	log := &syncBuffer{}
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
}
