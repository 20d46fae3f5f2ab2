//go:build windows

package main

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// On Windows, Ctrl+Break (as Ctrl+C, which cannot be sent to another
// process group) ends a hanging command at once: counted as 130, and the
// exit status is STATUS_CONTROL_C_EXIT, as Windows programs give. Runs on
// the Windows runner (.github/workflows/ci.yml).
func TestCtrlBreakIsCounted(t *testing.T) {
	dir := t.TempDir()
	accepted := hangingPlatform(t, dir)
	cmd := exec.Command(paceBin, "list", "tables", "-p", "pg")
	cmd.Env = append(os.Environ(), "PACE_CONFIG_PATH="+dir, "PACE_TELEMETRY_NOTICE=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-accepted:
		time.Sleep(50 * time.Millisecond)
	case <-time.After(20 * time.Second):
		t.Fatal("pace never connected to the platform")
	}
	start := time.Now()
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(cmd.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	t.Logf("Ctrl+Break: %v after %v", err, time.Since(start))
	ee, ok := err.(*exec.ExitError)
	if !ok || uint32(ee.ExitCode()) != 0xC000013A {
		t.Fatalf("exit %v, want 0xC000013A", err)
	}
	if got := load(t, dir)["pace list tables"][130]; got != 1 {
		t.Fatalf("counted %d times as 130, want once", got)
	}
}
