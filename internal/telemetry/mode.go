package telemetry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/machinepolicy"
)

// Mode says what telemetry may do.
type Mode string

const (
	// On records counts, and the daemon (if the user runs it) uploads them.
	On Mode = "on"
	// Local records counts that never leave the machine.
	Local Mode = "local"
	// Off records nothing and creates no file or folder.
	Off Mode = "off"
)

// Decision is a mode and the setting that decided it, in words a user can
// act on.
type Decision struct {
	Mode   Mode
	Reason string
}

// Decide applies the user's controls. The most private setting wins, so no
// single forgotten setting can turn uploading back on:
//  1. PACE_TELEMETRY_DISABLED or DO_NOT_TRACK (set, not 0/false), a
//     config folder others could write to, an unreadable config.yaml, or
//     telemetry-mode: off in it: off.
//  2. telemetry-mode: local, or a negative PACE upload interval
//     (telemetry-upload-interval-seconds) in the environment or
//     config.yaml: local.
//  3. Otherwise on.
func Decide(getenv config.Getenv, s config.Settings, settingsErr error) Decision {
	return DecideRun(getenv, s, settingsErr, nil)
}

// DecideRun is Decide for one run of pace that was given PACE's persistent
// flag --telemetry-upload-interval-seconds (flagInterval; nil when not
// given). A negative value makes this run local; it cannot turn anything
// back on.
func DecideRun(getenv config.Getenv, s config.Settings, settingsErr error, flagInterval *int) Decision {
	if truthy(getenv("PACE_TELEMETRY_DISABLED")) {
		return Decision{Off, "PACE_TELEMETRY_DISABLED is set"}
	}
	if truthy(getenv("DO_NOT_TRACK")) {
		return Decision{Off, "DO_NOT_TRACK is set"}
	}
	if errors.Is(settingsErr, config.ErrUnsafeFolder) {
		return Decision{Off, fmt.Sprintf("%v; pace counts nothing there", settingsErr)}
	}
	if settingsErr != nil {
		// We cannot tell whether the user opted out, so assume they did.
		return Decision{Off, fmt.Sprintf("config.yaml cannot be read (%v)", settingsErr)}
	}
	mode := Mode(strings.ToLower(strings.TrimSpace(s.TelemetryMode)))
	switch mode {
	case Off:
		return Decision{Off, "telemetry-mode: off in config.yaml (pace telemetry disable)"}
	case Local:
		return Decision{Local, "telemetry-mode: local in config.yaml (pace telemetry local)"}
	case On, "":
	default:
		return Decision{Off, fmt.Sprintf("telemetry-mode: %q in config.yaml is not one of on, local, off", s.TelemetryMode)}
	}
	// PACE's own opt-out is -1; any negative interval means never upload.
	if flagInterval != nil && *flagInterval < 0 {
		return Decision{Local, fmt.Sprintf("--telemetry-upload-interval-seconds %d on this run", *flagInterval)}
	}
	if n, err := config.ParseInt(getenv("PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS")); err == nil && n < 0 {
		return Decision{Local, fmt.Sprintf("PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS is %d", n)}
	}
	if s.UploadIntervalSeconds != nil && *s.UploadIntervalSeconds < 0 {
		return Decision{Local, fmt.Sprintf("telemetry-upload-interval-seconds: %d in config.yaml", *s.UploadIntervalSeconds)}
	}
	if mode == On {
		return Decision{On, "telemetry-mode: on in config.yaml (pace telemetry enable)"}
	}
	return Decision{On, "default"}
}

// truthy tells whether an opt-out variable is set. The DO_NOT_TRACK
// convention (consoledonottrack.com) defines only DO_NOT_TRACK=1; we honour
// every non-empty value except the two that plainly say no, 0 and false
// (any case). Anything else, f and no included, is read as the wish not
// to be tracked: a value we would have to guess at is not consent.
func truthy(v string) bool {
	v = strings.TrimSpace(v)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// Restrict applies the machine's policy (set by an administrator) to d,
// the user's own decision. A policy can only make it more private: off
// beats local beats on, and the user's off or local stays when the policy
// says less. A policy that cannot be read counts as off; an ignored one
// changes nothing (status warns of it).
func Restrict(d Decision, p machinepolicy.Policy) Decision {
	if !p.InEffect() || d.Mode == Off {
		return d
	}
	switch {
	case p.Err != nil:
		return Decision{Off, fmt.Sprintf("the machine's policy %s cannot be read, so it counts as off: %v; an administrator must fix it", p.Source, p.Err)}
	case p.Telemetry == machinepolicy.Off:
		return Decision{Off, fmt.Sprintf("the machine's policy %s sets telemetry: off (an administrator's choice; pace telemetry enable cannot change it)", p.Source)}
	case p.Telemetry == machinepolicy.Local && d.Mode == On:
		return Decision{Local, fmt.Sprintf("the machine's policy %s sets telemetry: local (an administrator's choice: counts never leave this machine)", p.Source)}
	}
	return d
}
