//go:build windows

package daemoncmd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/windows"

	"github.com/pace-cli/pace/internal/daemon"
)

// Nothing restarts a program a Run value started, so the copy it starts
// is a supervisor, as systemd (Restart=on-failure) and launchd (KeepAlive)
// are elsewhere: it runs the uploader as a child (the same copy, with
// --supervised) and starts it again 5 s after it ends other than by a
// requested stop. The supervisor only waits, on the child's process
// handle and on the folder's stop event, which it makes: so a second
// supervisor (a second logon, a start racing one) finds the event and
// exits 3, as a second uploader finds the folder's lock. stop sets the
// event; the child, which listens on the same event, makes its last
// upload and exits; the supervisor then exits without a restart.

const (
	// restartSec is the wait after the uploader ended before it is
	// started again (systemd's RestartSec=5, launchd's ThrottleInterval
	// 5): a child that dies at once is not restarted in a tight loop.
	restartSec = 5 * time.Second
	// supervisedFlag marks the child, which serves instead of supervising.
	supervisedFlag = "--supervised"
)

// supervise runs the uploader of dir as a child until stop, starting it
// again after it ends on its own. It returns daemon.ErrRunning when
// another supervisor or uploader serves dir, and an error when the child
// ends in a way a restart cannot mend (exit 3: held by another; 2: its
// command line is wrong).
func supervise(dir string, logf func(daemon.Priority, string, ...any)) error {
	name, err := windows.UTF16PtrFromString(stopEventName(dir))
	if err != nil {
		return err
	}
	ev, err := windows.CreateEvent(nil, 1, 0, name)
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		windows.CloseHandle(ev)
		return fmt.Errorf("%w (%s)", daemon.ErrRunning, dir)
	}
	if err != nil {
		return fmt.Errorf("the stop event: %w", err)
	}
	defer windows.CloseHandle(ev)
	stopped := make(chan struct{})
	go func() {
		windows.WaitForSingleObject(ev, windows.INFINITE)
		close(stopped)
	}()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := append(slices.Clone(os.Args[1:]), supervisedFlag)
	for {
		cmd := exec.Command(exe, args...)
		// Its own process group, no console, and only the standard
		// handles (the null device): nothing of the supervisor's to share.
		cmd.SysProcAttr = &syscall.SysProcAttr{
			CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS,
			HideWindow:    true,
		}
		if err := cmd.Start(); err != nil {
			logf(daemon.Error, "cannot start the uploader: %v; trying again in %v", err, restartSec)
		} else {
			code, asked := waitChild(cmd, ev, stopped, logf)
			switch {
			case asked:
				return nil
			case code == exitRunning:
				return fmt.Errorf("%w (%s)", daemon.ErrRunning, dir)
			case code == exitUsage:
				return fmt.Errorf("the uploader refused its command line (exit status %d): run 'pace-telemetryd install' again", code)
			}
			// Its pid file names a process that is gone: status then says
			// restarting, not running.
			if readPid(dir) == cmd.Process.Pid {
				removePid(dir)
			}
			logf(daemon.Warning, "the uploader (pid %d) ended on its own (exit status %d); starting it again in %v", cmd.Process.Pid, code, restartSec)
		}
		select {
		case <-stopped:
			return nil
		case <-time.After(restartSec):
		}
	}
}

// waitChild waits for the child to end, and tells whether it was asked to
// stop (the stop event was set). Asked, it has stopWait for its last upload,
// and is then ended.
func waitChild(cmd *exec.Cmd, ev windows.Handle, stopped <-chan struct{}, logf func(daemon.Priority, string, ...any)) (code int, asked bool) {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		// It may have ended on a stop seen before the goroutine that
		// closes stopped saw it: ask the event itself.
		r, _ := windows.WaitForSingleObject(ev, 0)
		asked = r == windows.WAIT_OBJECT_0
	case <-stopped:
		asked = true
		select {
		case <-done:
		case <-time.After(stopWait):
			logf(daemon.Warning, "the uploader (pid %d) did not stop within %v: ending it", cmd.Process.Pid, stopWait)
			cmd.Process.Kill()
			<-done
		}
	}
	return cmd.ProcessState.ExitCode(), asked
}

// processAlive tells whether process pid still runs.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	ev, _ := windows.WaitForSingleObject(h, 0)
	return ev == uint32(windows.WAIT_TIMEOUT)
}
