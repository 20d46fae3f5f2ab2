//go:build windows

package daemoncmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/pace-cli/pace/internal/lockedfile"
)

// The per-user uploader on Windows starts at logon from a value under the
// user's own Run key, as VS Code's `code tunnel service install` and
// Tailscale's install without administrator do. Windows has no per-user
// services (creating any service needs an administrator), and a logon
// task for the current user only needs a task XML naming the user (a
// plain `schtasks /create /sc onlogon` makes an all-users task, which
// needs elevation). The value runs a copy of this program that the user
// owns, in %LOCALAPPDATA%\pace-telemetryd, marked for the GUI subsystem so
// that no console window opens at logon; start, restart and install
// refresh the copy from the program they are run from.
const (
	runKey        = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValue      = ServiceName
	logonPlatform = "windows-logon"
	// maxRunCommand is the longest command line a Run value holds.
	maxRunCommand = 260
	// stopWait bounds stop's wait for the last upload (the daemon's own
	// flush is bounded by 5 s, plus the start of a slow machine).
	stopWait  = 30 * time.Second
	startWait = 30 * time.Second
)

// backgroundDir is the user's own folder for the program copy and its log.
func backgroundDir() (string, error) {
	dir := os.Getenv("LOCALAPPDATA")
	if dir == "" {
		d, err := os.UserCacheDir() // %LocalAppData% too
		if err != nil {
			return "", errors.New("%LOCALAPPDATA% is not set")
		}
		dir = d
	}
	return filepath.Join(dir, ServiceName), nil
}

// backgroundProgram is the copy the Run value starts.
func backgroundProgram() (string, error) {
	dir, err := backgroundDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, ServiceName+".exe"), nil
}

// backgroundLog is where the copy writes its log (it has no console).
func backgroundLog() (string, error) {
	dir, err := backgroundDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, ServiceName+".log"), nil
}

// isBackground tells whether this process is the copy the Run value starts.
func isBackground() bool {
	exe, err := os.Executable()
	if err != nil {
		return false
	}
	prog, err := backgroundProgram()
	return err == nil && strings.EqualFold(filepath.Clean(exe), filepath.Clean(prog))
}

type logon struct{}

func (logon) Platform() string { return logonPlatform }

// command reads the Run value: "" when there is none.
func (logon) command() (string, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer k.Close()
	v, _, err := k.GetStringValue(runValue)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	return v, err
}

// words splits the Run value into the program and its arguments.
func (l logon) words() ([]string, error) {
	line, err := l.command()
	if err != nil {
		return nil, err
	}
	if line == "" {
		return nil, errNotInstalled
	}
	words, err := windows.DecomposeCommandLine(line)
	if err != nil || len(words) < 2 {
		return nil, fmt.Errorf("the Run value %s cannot be read as a command line: %q", runValue, line)
	}
	return words, nil
}

func (l logon) Installed() ([]string, error) {
	words, err := l.words()
	if err != nil {
		return nil, err
	}
	return words[1:], nil
}

// folder is the config folder the installed uploader runs on.
func (l logon) folder() (string, error) {
	args, err := l.Installed()
	if err != nil {
		return "", err
	}
	for i, a := range args {
		if a == "--config-path" && i+1 < len(args) {
			return args[i+1], nil
		}
		if v, ok := strings.CutPrefix(a, "--config-path="); ok {
			return v, nil
		}
	}
	return "", errors.New("the installed command names no --config-path")
}

// refresh copies the program running now over the background copy, marked
// windowless, unless this is the copy.
func refresh() (string, error) {
	prog, err := backgroundProgram()
	if err != nil {
		return "", err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if strings.EqualFold(filepath.Clean(exe), filepath.Clean(prog)) {
		return prog, nil
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		return "", err
	}
	if data, err = windowless(data); err != nil {
		return "", fmt.Errorf("%s: %w", exe, err)
	}
	if err := os.MkdirAll(filepath.Dir(prog), 0o700); err != nil {
		return "", err
	}
	if err := lockedfile.Replace(prog, data, 0o700); err != nil {
		return "", fmt.Errorf("copy the program to %s: %w", prog, err)
	}
	return prog, nil
}

func (l logon) Install(spec Spec) error {
	st, err := l.Status()
	if err != nil {
		return err
	}
	running := st.State == Running || st.State == Restarting
	if running {
		// Windows does not replace a program that runs: stop it for the
		// new copy, and start it again below.
		if err := l.Stop(); err != nil {
			return err
		}
	}
	prog, err := refresh()
	if err != nil {
		return err
	}
	line := windows.ComposeCommandLine(append([]string{prog}, spec.Args...))
	if len(line) > maxRunCommand {
		return fmt.Errorf("the command to run at logon is %d characters, more than the %d a Run value holds: use a shorter --config-path, or set the endpoint as telemetry-endpoint in config.yaml instead of --endpoint", len(line), maxRunCommand)
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.SetStringValue(runValue, line); err != nil {
		return err
	}
	if running {
		return l.Start()
	}
	return nil
}

func (l logon) Uninstall() error {
	if _, err := l.words(); err != nil {
		return err
	}
	if err := l.Stop(); err != nil {
		return err
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.DeleteValue(runValue); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	// The copy and its log go too; this process may be the copy.
	if dir, err := backgroundDir(); err == nil && !isBackground() {
		// Windows keeps a program that just exited open for a moment.
		for i := 0; removeFlat(dir) != nil && i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// removeFlat removes dir and the files in it, one by one: os.RemoveAll's
// way of deleting (relative to the open folder) fails under wine 8.
func removeFlat(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return os.Remove(dir)
}

// running says whether the uploader of the installed folder runs, and
// its process id when it wrote one.
func (l logon) running() (bool, int, error) {
	dir, err := l.folder()
	if err != nil {
		return false, 0, err
	}
	return daemonRunning(dir)
}

func (l logon) Start() error {
	words, err := l.words()
	if err != nil {
		return err
	}
	if ok, pid, err := l.running(); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("it is already running (pid %d)", pid)
	}
	if _, err := refresh(); err != nil {
		return err
	}
	cmd := exec.Command(words[0], words[1:]...)
	// Detached, in a process group of its own: no console, and no Ctrl+C
	// or console close from the terminal that ran start.
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP,
		HideWindow:    true,
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(startWait)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("it stopped at once (%v); %s", err, seeLog())
		case <-deadline:
			cmd.Process.Kill()
			return fmt.Errorf("it did not start within %v; %s", startWait, seeLog())
		case <-time.After(50 * time.Millisecond):
		}
		// Started once the uploader its supervisor runs wrote its pid.
		if ok, pid, _ := l.running(); ok && processAlive(pid) {
			cmd.Process.Release()
			return nil
		}
	}
}

// seeLog names the log and quotes its last line.
func seeLog() string {
	path, err := backgroundLog()
	if err != nil {
		return "no log"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "its log " + path + " is empty"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return fmt.Sprintf("its log %s ends: %s", path, strings.TrimSpace(lines[len(lines)-1]))
}

func (l logon) Stop() error {
	dir, err := l.folder()
	if err != nil {
		return err
	}
	return stopDaemon(dir, stopWait)
}

func (l logon) Restart() error {
	if err := l.Stop(); err != nil {
		return err
	}
	return l.Start()
}

func (l logon) Status() (Status, error) {
	words, err := l.words()
	if errors.Is(err, errNotInstalled) {
		return Status{State: NotInstalled, Detail: logonPlatform}, nil
	}
	if err != nil {
		return Status{State: Unknown, Detail: logonPlatform}, err
	}
	prog := words[0]
	if _, err := os.Stat(prog); errors.Is(err, fs.ErrNotExist) {
		return Status{State: Failed, Detail: fmt.Sprintf("%s; the program it runs, %s, is missing: run 'pace-telemetryd install' again", logonPlatform, prog)}, nil
	}
	ok, pid, err := l.running()
	switch {
	case err != nil:
		return Status{State: Unknown, Detail: logonPlatform}, err
	case ok && processAlive(pid):
		return Status{State: Running, Detail: fmt.Sprintf("%s; pid %d: %s", logonPlatform, pid, prog)}, nil
	case ok:
		// Its supervisor holds the stop event, and starts it again.
		return Status{State: Restarting, Detail: fmt.Sprintf("%s; started again within %v: %s", logonPlatform, restartSec, prog)}, nil
	}
	return Status{State: Stopped, Detail: fmt.Sprintf("%s; starts at logon: %s", logonPlatform, prog)}, nil
}

// Program is what the Run value starts: the copy of this program.
func (logon) Program() string {
	p, _ := backgroundProgram()
	return p
}

// maxLog is the size past which the background log starts afresh (the
// previous one kept as .log.old).
const maxLog = 1 << 20

// backgroundStreams sends the copy's output, which has no console, to its
// log in %LOCALAPPDATA%\pace-telemetryd.
func backgroundStreams(io IO) IO {
	if !isBackground() {
		return io
	}
	path, err := backgroundLog()
	if err != nil {
		return io
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLog {
		os.Rename(path, path+".old")
	}
	return IO{Out: appendLog(path), Err: appendLog(path)}
}

// appendLog appends each write to the file, opened for that write only:
// the supervisor and its uploader share the log, and a file kept open
// could not be renamed to .log.old by the next to start.
type appendLog string

func (l appendLog) Write(p []byte) (int, error) {
	f, err := lockedfile.OpenFile(string(l), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := f.Write(p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

var quoteArg = windows.EscapeArg
