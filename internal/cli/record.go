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
		notice(e.Err, d.Mode, store.Path())
	}
	debugf(log, "telemetry took %v", time.Since(start).Round(time.Microsecond))
}

func notice(w io.Writer, mode telemetry.Mode, path string) {
	where := "The daemon pace-telemetryd uploads them if you run it."
	if mode == telemetry.Local {
		where = "They stay on this machine: uploading is off."
	}
	fmt.Fprintf(w, `
pace counts the commands you run and their exit codes (never arguments,
flag values, paths or names) in %s.
%s
See them with 'pace telemetry show'. Turn counting off with
'pace telemetry disable' or DO_NOT_TRACK=1. This notice is shown once.
`, path, where)
}

func debugf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "pace telemetry: "+format+"\n", args...)
	}
}
