package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/telemetry"
)

// record counts one finished run. It prints nothing unless
// PACE_TELEMETRY_DEBUG=1 asks it to explain, or it has just created the
// file and owes the user the one-time notice (on stderr, never stdout).
func record(e *env, path string, code int) {
	start := time.Now()
	var log io.Writer
	if e.getenv("PACE_TELEMETRY_DEBUG") == "1" {
		log = e.Err
	}
	// Telemetry must never change how a command ends: a bug here costs one
	// uncounted run, not the user's exit code.
	defer func() {
		if r := recover(); r != nil {
			debugf(log, "not recorded: %v", r)
		}
	}()
	dir, err := config.Dir(e.getenv)
	if err != nil {
		debugf(log, "not recorded: %v", err)
		return
	}
	settings, err := config.Load(dir)
	d := telemetry.Decide(e.getenv, settings, err)
	if d.Mode == telemetry.Off {
		debugf(log, "not recorded: telemetry is off (%s)", d.Reason)
		return
	}
	store := &telemetry.Store{Dir: dir, Version: e.version, Log: log}
	if store.Record(path, code) {
		notice(e.Err, e.getenv, d.Mode, store.Path())
	}
	debugf(log, "telemetry took %v", time.Since(start).Round(time.Microsecond))
}

func debugf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "pace telemetry: "+format+"\n", args...)
	}
}
