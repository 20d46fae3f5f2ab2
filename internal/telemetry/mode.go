package telemetry

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pace-cli/pace/internal/config"
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
//  1. PACE_TELEMETRY_DISABLED=1, DO_NOT_TRACK (set, not 0/false), an
//     unreadable config.yaml, or telemetry-mode: off in it: off.
//  2. telemetry-mode: local, or PACE's telemetry-upload-interval-seconds
//     of -1 in the environment or config.yaml: local.
//  3. Otherwise on.
func Decide(getenv config.Getenv, s config.Settings, settingsErr error) Decision {
	if truthy(getenv("PACE_TELEMETRY_DISABLED")) {
		return Decision{Off, "PACE_TELEMETRY_DISABLED is set"}
	}
	if truthy(getenv("DO_NOT_TRACK")) {
		return Decision{Off, "DO_NOT_TRACK is set"}
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
	if n, err := strconv.Atoi(strings.TrimSpace(getenv("PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"))); err == nil && n < 0 {
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

// truthy is true for any value except empty, 0 and false, the
// DO_NOT_TRACK convention most tools follow.
func truthy(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return true
}
