package cli

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/machinepolicy"
	"github.com/pace-cli/pace/internal/telemetry"
)

// record counts one finished run, and its crash site if it panicked
// (site is "" otherwise). It prints nothing unless PACE_TELEMETRY_DEBUG=1
// asks it to explain, or it has just created the file and owes the user the
// one-time notice (on stderr, never stdout). lockWait, when not 0, bounds
// the wait for the file's lock, whoever holds it.
func record(e *env, path string, code int, site string, lockWait time.Duration) {
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
	if n := e.uploadInterval; n != nil && *n < 0 {
		// Uploads are pace-telemetryd's, from the file: a count kept now
		// would leave later. Keeping this run out of the file is the only
		// way to keep it local.
		debugf(log, "not recorded: --telemetry-upload-interval-seconds %d keeps this run out of every upload", *n)
		return
	}
	dir, err := config.Dir(e.getenv)
	if err != nil {
		debugf(log, "not recorded: %v", err)
		return
	}
	settings, err := config.Load(dir)
	d := telemetry.Decide(e.getenv, settings, err)
	if d.Mode != telemetry.Off {
		// The machine's policy: one failed open when there is none.
		d = telemetry.Restrict(d, machinepolicy.Load())
	}
	if d.Mode == telemetry.Off {
		debugf(log, "not recorded: telemetry is off (%s)", d.Reason)
		return
	}
	store := &telemetry.Store{Dir: dir, Version: e.version, Log: log, LockTimeout: lockWait, MaxLockWait: lockWait}
	if r := store.RecordRun(path, code, site); r.Created || r.NewVersion && noticeShown(dir) < NoticeVersion {
		notice(e.Err, e.getenv, d.Mode, dir, store.Path(), r.Created)
	}
	debugf(log, "telemetry took %v", time.Since(start).Round(time.Microsecond))
}

// uploadIntervalFlag is PACE's persistent flag, kept so that PACE users'
// scripts go on working. Uploads are pace-telemetryd's now, so on pace
// it only matters when negative: that run is not counted (its count would
// otherwise be uploaded later). Its value, like every flag's, is never
// recorded.
const uploadIntervalFlag = "telemetry-upload-interval-seconds"

// addTelemetryFlags adds the telemetry flags every command accepts.
func addTelemetryFlags(root *cobra.Command, e *env) {
	root.PersistentFlags().Var(intFlag{&e.uploadInterval}, uploadIntervalFlag,
		"PACE's upload interval, kept for its scripts (pace-telemetryd uploads now): a negative value (-1) leaves this run uncounted, so nothing of it is ever uploaded; other values change nothing")
}

// intFlag is an int flag that remembers whether it was given, parsed as
// pflag's own int flags (and so PACE's) are.
type intFlag struct{ p **int }

func (f intFlag) Set(v string) error {
	n, err := strconv.ParseInt(v, 0, 32)
	if err != nil {
		return fmt.Errorf("%q is not a whole number of seconds", v)
	}
	i := int(n)
	*f.p = &i
	return nil
}

func (f intFlag) String() string {
	if *f.p == nil {
		return ""
	}
	return strconv.Itoa(**f.p)
}

func (intFlag) Type() string { return "int" }

func debugf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "pace telemetry: "+format+"\n", args...)
	}
}
