//go:build windows

package daemoncmd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/windows"

	"github.com/pace-cli/pace/internal/lockedfile"
)

// A daemon started detached has no console, so no Ctrl+C reaches it. It
// listens instead on a named event of its config folder, in the session's
// own namespace (Local\), which `stop` sets; the daemon then makes its
// last upload and exits, and the event goes with the process. The event's
// existence also tells `status` that the daemon runs, and its process id
// is in telemetryd.pid beside the folder's lock.

const pidName = "telemetryd.pid"

// stopEventName names the stop event of the config folder dir.
func stopEventName(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(dir))))
	return `Local\` + ServiceName + "-" + hex.EncodeToString(sum[:16])
}

// listenStop makes dir's stop event; stopped is closed when it is set. The
// event lives as long as this process (and its supervisor). A supervised
// uploader leaves the event as it is: its supervisor made it, and a stop
// set while it was starting is for it.
func listenStop(dir string, reset bool) (stopped <-chan struct{}, err error) {
	name, err := windows.UTF16PtrFromString(stopEventName(dir))
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateEvent(nil, 1, 0, name)
	if err != nil && !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		return nil, fmt.Errorf("the stop event: %w", err)
	}
	if reset {
		windows.ResetEvent(h) // a stop that came before we ran is not ours
	}
	c := make(chan struct{})
	go func() {
		windows.WaitForSingleObject(h, windows.INFINITE)
		close(c)
	}()
	return c, nil
}

// writePid records this process in dir, for status; removePid undoes it.
func writePid(dir string) error {
	return lockedfile.Replace(filepath.Join(dir, pidName), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

func removePid(dir string) { os.Remove(filepath.Join(dir, pidName)) }

func readPid(dir string) int {
	data, err := lockedfile.Read(filepath.Join(dir, pidName), 64)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// daemonRunning says whether a daemon serves dir, with its pid when known.
func daemonRunning(dir string) (bool, int, error) {
	h, err := openStopEvent(dir, windows.SYNCHRONIZE)
	if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	windows.CloseHandle(h)
	return true, readPid(dir), nil
}

func openStopEvent(dir string, access uint32) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(stopEventName(dir))
	if err != nil {
		return 0, err
	}
	return windows.OpenEvent(access, false, name)
}

// stopDaemon asks the daemon serving dir to stop and waits, at most wait,
// until its process is gone (after its last upload), and its supervisor
// with it: until no one holds the event. A daemon that is not running is
// no error.
func stopDaemon(dir string, wait time.Duration) error {
	h, err := openStopEvent(dir, windows.EVENT_MODIFY_STATE|windows.SYNCHRONIZE)
	if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the stop event: %w", err)
	}
	var proc windows.Handle
	if pid := readPid(dir); pid > 0 {
		proc, _ = windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	}
	err = windows.SetEvent(h)
	windows.CloseHandle(h)
	if err != nil {
		return fmt.Errorf("the stop event: %w", err)
	}
	deadline := time.Now().Add(wait)
	if proc != 0 {
		defer windows.CloseHandle(proc)
		windows.WaitForSingleObject(proc, uint32(wait/time.Millisecond))
	}
	for time.Now().Before(deadline) {
		if ok, _, _ := daemonRunning(dir); !ok {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("it did not stop within %v", wait)
}
