package telemetryd

import (
	"errors"
	"fmt"
	"os/user"
	"strings"

	"github.com/kardianos/service"
)

// ServiceName is the unit, agent or Windows service name.
const ServiceName = "pace-telemetryd"

// The library's own systemd unit says WantedBy=multi-user.target, which a
// user manager never reaches (so a user unit never starts at login), and
// waits a fixed 120 s before a restart. These say what we mean. The syntax
// is the library's small template language, not text/template.
const (
	userUnit = `[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}

[Service]
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
Restart=on-failure
RestartSec=5
{{range EnvVars}}{{.}}
{{end}}
[Install]
WantedBy=default.target
`
	systemUnit = `[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}
After=network-online.target
Wants=network-online.target

[Service]
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if UserName}}User={{UserName}}
{{end}}Restart=on-failure
RestartSec=5
{{range EnvVars}}{{.}}
{{end}}
[Install]
WantedBy=multi-user.target
`
)

// newService describes the daemon to the OS service manager. The service
// runs `pace-telemetryd run` on the config folder chosen at install time,
// so it finds the same files whatever its environment.
func newService(dir string, system bool, extra []string) (service.Service, error) {
	chooseSystem()
	cfg := &service.Config{
		Name:        ServiceName,
		DisplayName: "pace telemetry uploader",
		Description: "Uploads the usage counts of the pace CLI (telemetry.yaml) to the PACE receiver",
		Arguments:   append([]string{"run", "--config-path", dir}, extra...),
		Option: service.KeyValue{
			"UserService":   !system,
			"SystemdScript": userUnit,
			"RunAtLoad":     true, // launchd: start at login
			"KeepAlive":     true,
			"OnFailure":     "restart", // Windows
		},
	}
	if system {
		cfg.Option["SystemdScript"] = systemUnit
		// A machine-wide unit still runs as the user who owns the folder.
		if u, err := user.Current(); err == nil && u.Uid != "0" {
			cfg.UserName = u.Username
		}
	}
	return service.New(program{}, cfg)
}

// program satisfies service.Interface for control commands; `run` brings
// its own (see run_*.go).
type program struct{}

func (program) Start(service.Service) error { return nil }
func (program) Stop(service.Service) error  { return nil }

// explain turns a service manager's failure into advice.
func explain(action string, err error) error {
	const instead = "run 'pace-telemetryd run' in the foreground (or from your session's autostart), or 'pace-telemetryd flush' from cron"
	msg := err.Error()
	switch {
	case errors.Is(err, service.ErrNoServiceSystemDetected):
		return fmt.Errorf("%s: no service manager was found (systemd, launchd or Windows services); %s", action, instead)
	case strings.Contains(msg, "Failed to connect to bus"), strings.Contains(msg, "System has not been booted with systemd"), strings.Contains(msg, "exit status"):
		return fmt.Errorf("%s: the service manager refused (%v); in a container or CI no service manager runs: %s", action, err, instead)
	case strings.Contains(msg, "not supported"):
		return fmt.Errorf("%s: %v; per-user services need systemd, launchd or Windows: %s", action, err, instead)
	}
	return fmt.Errorf("%s: %w", action, err)
}
