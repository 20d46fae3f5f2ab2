//go:build windows

package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// TestLogonUploader runs the per-user uploader as Windows runs it, from
// the user's Run key, without administrator rights: install (the value
// names a windowless copy of the program), start (it delivers the counts
// of pace runs to a receiver on loopback), a kill (its supervisor starts a
// new uploader 5 s later, which delivers the counts of later runs),
// restart, stop (its last upload arrives, and no process of the copy is
// left), uninstall (value, copy and process gone).
func TestLogonUploader(t *testing.T) {
	needRealService(t)
	const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValue := func() (string, bool) {
		k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
		if err != nil {
			return "", false
		}
		defer k.Close()
		v, _, err := k.GetStringValue("pace-telemetryd")
		return v, err == nil
	}
	if v, ok := runValue(); ok {
		t.Fatalf("this account has the uploader installed already: %s", v)
	}
	r := startReceiver(t)
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		runPace(t, dir, "version")
	}
	env := os.Environ()
	ctl := func(args ...string) string {
		t.Helper()
		code, out := daemonCmd(t, env, args...)
		if code != 0 {
			t.Fatalf("pace-telemetryd %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	pid := func() (string, int) {
		t.Helper()
		var s struct {
			Service struct{ State, Detail string }
		}
		if err := json.Unmarshal([]byte(ctl("status", "-o", "json")), &s); err != nil {
			t.Fatal(err)
		}
		_, p, _ := strings.Cut(s.Service.Detail, "pid ")
		p, _, _ = strings.Cut(p, ":")
		n, _ := strconv.Atoi(p)
		return s.Service.State, n
	}
	copyPath := filepath.Join(os.Getenv("LOCALAPPDATA"), "pace-telemetryd", "pace-telemetryd.exe")
	t.Cleanup(func() {
		daemonCmd(t, env, "uninstall")
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(filepath.Dir(copyPath), "pace-telemetryd.log"))
			t.Logf("the uploader's log:\n%s", log)
		}
	})

	ctl("install", "--config-path", dir, "--endpoint", r.url, "--debounce=1h", "--telemetry-upload-interval-seconds=0")
	if v, ok := runValue(); !ok || !strings.HasPrefix(v, copyPath+" run --config-path ") {
		t.Fatalf("the Run value: %q", v)
	}
	if st, _ := pid(); st != "stopped" {
		t.Fatalf("after install: %s", st)
	}
	ctl("start")
	st, first := pid()
	if st != "running" || first == 0 {
		t.Fatalf("after start: %s, pid %d", st, first)
	}
	settle(t, "the counts to arrive", func() bool { return equal(r.counts(t), want(t, dir)) })

	if n := len(copyProcesses(t, copyPath)); n != 2 {
		t.Fatalf("%d processes of %s run, want 2 (the supervisor and the uploader)", n, copyPath)
	}

	// A kill (TerminateProcess, as Task Manager's End task): the
	// supervisor starts a new uploader, which delivers the later counts.
	p, err := os.FindProcess(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	runPace(t, dir, "version")
	settle(t, "a new uploader after a kill", func() bool { st, p := pid(); return st == "running" && p != first })
	settle(t, "the new uploader to deliver", func() bool { return equal(r.counts(t), want(t, dir)) })
	_, second := pid()
	ctl("restart")
	if st, third := pid(); st != "running" || third == second || third == 0 {
		t.Fatalf("restart: %s, pid %d (was %d)", st, third, second)
	}

	// stop: the last upload arrives.
	_, last := pid()
	runPace(t, dir, "version")
	ctl("stop")
	if got, w := r.counts(t), want(t, dir); !equal(got, w) {
		t.Fatalf("after stop the receiver has %v, want %v", got, w)
	}
	if alive(last) {
		t.Fatalf("pid %d still runs after stop", last)
	}
	if procs := copyProcesses(t, copyPath); len(procs) > 0 {
		t.Fatalf("processes of %s left after stop: %v", copyPath, procs)
	}
	ctl("start")

	ctl("uninstall")
	if v, ok := runValue(); ok {
		t.Fatalf("the Run value is still there: %s", v)
	}
	if _, err := os.Stat(copyPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the program copy: %v", err)
	}
	if procs := copyProcesses(t, copyPath); len(procs) > 0 {
		t.Fatalf("processes of %s left after uninstall: %v", copyPath, procs)
	}
}

// copyProcesses lists the processes that run the program at path.
func copyProcesses(t *testing.T, path string) []uint32 {
	t.Helper()
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(snap)
	var found []uint32
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, e.ProcessID)
		if err != nil {
			continue
		}
		buf := make([]uint16, windows.MAX_LONG_PATH)
		n := uint32(len(buf))
		if windows.QueryFullProcessImageName(h, 0, &buf[0], &n) == nil && strings.EqualFold(windows.UTF16ToString(buf[:n]), path) {
			found = append(found, e.ProcessID)
		}
		windows.CloseHandle(h)
	}
	return found
}

// alive tells whether process pid still runs.
func alive(pid int) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	ev, _ := windows.WaitForSingleObject(h, 0)
	return ev == uint32(windows.WAIT_TIMEOUT)
}
