package daemoncmd

import (
	"errors"
	"fmt"
	"strings"
)

// ServiceName is the systemd unit and the Windows service; launchd's label
// is reverse-DNS (LaunchdLabel).
const ServiceName = "pace-telemetryd"

const (
	displayName = "pace telemetry uploader"
	description = "Uploads the usage counts of the pace CLI (telemetry.yaml) to the PACE receiver"
)

// Spec is what gets installed: the program, its arguments, and for a
// machine-wide service the account it runs as.
type Spec struct {
	System bool
	Exe    string
	Args   []string // after Exe: run --config-path <folder> …
	User   string   // --system only: the account that owns the folder; "" runs as the manager's default (root, LocalSystem)
}

// State is what a service manager says of the installed service.
type State int

const (
	NotInstalled State = iota
	Stopped
	Running
	Restarting // failed, and the manager will start it again
	Failed     // failed, and the manager will not start it again
	Unknown
)

// Status is a State with the manager's own words (exit status, result).
type Status struct {
	State  State
	Detail string
}

func (s State) String() string {
	return [...]string{"not installed", "stopped", "running", "restarting after a failure", "failed", "unknown"}[s]
}

func (s Status) String() string {
	word := s.State.String()
	if s.Detail != "" {
		return word + " (" + s.Detail + ")"
	}
	return word
}

// manager drives one OS service manager for one service, per-user or
// machine-wide.
type manager interface {
	Platform() string
	Install(Spec) error
	// Uninstall stops the service, then removes it.
	Uninstall() error
	Start() error
	Stop() error
	// Restart starts a stopped service too.
	Restart() error
	Status() (Status, error)
	// Installed returns the arguments the installed service runs with.
	Installed() ([]string, error)
}

// errNotInstalled is returned by control actions on a missing service.
var errNotInstalled = errors.New("the service is not installed: run 'pace-telemetryd install' first")

// noManager is the advice when no service manager can be used.
const noManager = "run 'pace-telemetryd run' in the foreground (or from your session's autostart), or 'pace-telemetryd flush' from cron"

// control runs one action on m.
func control(m manager, action string, spec Spec) error {
	switch action {
	case "install":
		return m.Install(spec)
	case "uninstall":
		return m.Uninstall()
	case "start":
		return m.Start()
	case "stop":
		return m.Stop()
	case "restart":
		return m.Restart()
	}
	return fmt.Errorf("unknown action %q", action)
}

// quoteArgs shows arguments as a shell would need them, for messages: a
// Unix shell's quoting, or on Windows a command line's.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quoteArg(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(a string) string {
	if a == "" || strings.ContainsAny(a, " \t\"'\\$%") {
		return fmt.Sprintf("%q", a)
	}
	return a
}
