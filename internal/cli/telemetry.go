package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
)

func newTelemetryCmd(e *env) *cobra.Command {
	c := group("telemetry", "See and control the usage counts pace keeps",
		newTelemetryStatusCmd(e),
		newTelemetryShowCmd(e),
		newTelemetryModeCmd(e, "enable", telemetry.On, "Count commands; the daemon, if you run it, uploads the counts"),
		newTelemetryModeCmd(e, "local", telemetry.Local, "Count commands, but never upload the counts"),
		newTelemetryModeCmd(e, "disable", telemetry.Off, "Count nothing"),
		newTelemetryResetCmd(e),
	)
	c.Long = `pace counts how often each command ran and with which exit code, in
telemetry.yaml in the pace config folder. It never records arguments, flag
values, paths, host or user names. pace itself never sends anything: the
optional daemon pace-telemetryd uploads the counts when telemetry is on.

DO_NOT_TRACK=1 or PACE_TELEMETRY_DISABLED=1 turn counting off whatever
config.yaml says.`
	return c
}

// telemetryState is what the telemetry commands look at.
type telemetryState struct {
	dir      string
	settings config.Settings
	decision telemetry.Decision
	store    *telemetry.Store
}

func (e *env) telemetryState() (*telemetryState, error) {
	dir, err := config.Dir(e.getenv)
	if err != nil {
		return nil, err
	}
	settings, serr := config.Load(dir)
	return &telemetryState{
		dir:      dir,
		settings: settings,
		decision: telemetry.DecideRun(e.getenv, settings, serr, e.uploadInterval),
		store:    &telemetry.Store{Dir: dir, Version: e.version},
	}, nil
}

func newTelemetryStatusCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether counting is on, why, and where the counts are",
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := e.telemetryState()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "mode:\t%s (%s)\n", st.decision.Mode, st.decision.Reason)
			fmt.Fprintf(w, "file:\t%s\n", st.store.Path())
			if err := st.store.Check(); err != nil {
				fmt.Fprintf(w, "problem:\t%v; nothing is counted until it is gone\n", err)
			}
			p, err := st.store.Load()
			switch {
			case errors.Is(err, fs.ErrNotExist):
				fmt.Fprintf(w, "counters:\tnone recorded yet\n")
			case err != nil:
				fmt.Fprintf(w, "counters:\tthe file cannot be read (%v); the next counted run moves it aside\n", err)
			default:
				fmt.Fprintf(w, "id:\t%s\n", p.ID)
				fmt.Fprintf(w, "counters:\t%d\n", p.Counters())
			}
			// What pace-telemetryd last did, from its state file.
			up, err := upload.LoadState(st.dir)
			switch {
			case err != nil:
				fmt.Fprintf(w, "last upload:\tunknown (%v)\n", err)
			case up.LastSuccess.IsZero():
				fmt.Fprintf(w, "last upload:\tnever\n")
			default:
				fmt.Fprintf(w, "last upload:\t%s\n", up.LastSuccess.Local().Format(time.RFC3339))
			}
			if up.LastError != "" {
				fmt.Fprintf(w, "last error:\t%s (%s)\n", up.LastError, up.LastAttempt.Local().Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
}

func newTelemetryShowCmd(e *env) *cobra.Command {
	var asPayload bool
	c := &cobra.Command{
		Use:   "show",
		Short: "Print the counts pace keeps, exactly as stored",
		Long: `Print telemetry.yaml as it is. With --payload, print instead the exact
JSON body that would be uploaded; nothing is sent.`,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := e.telemetryState()
			if err != nil {
				return err
			}
			if !asPayload {
				data, err := lockedfile.Read(st.store.Path(), telemetry.MaxFileSize)
				if errors.Is(err, fs.ErrNotExist) {
					fmt.Fprintf(e.Err, "Nothing recorded yet (%s does not exist).\n", st.store.Path())
					return nil
				}
				if err != nil {
					return err
				}
				_, err = e.Out.Write(data)
				return err
			}
			p, err := st.store.Load()
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(e.Err, "Nothing recorded yet, so nothing would be uploaded.\n")
				return nil
			}
			if err != nil {
				return fmt.Errorf("%w; the next counted run moves the file aside", err)
			}
			body, err := p.Marshal()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.Out, "%s\n", body)
			return err
		},
	}
	c.Flags().BoolVar(&asPayload, "payload", false, "print the JSON body that would be uploaded")
	return c
}

func newTelemetryModeCmd(e *env, use string, mode telemetry.Mode, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := e.telemetryState()
			if err != nil {
				return err
			}
			if err := config.Set(st.dir, config.KeyTelemetryMode, string(mode)); err != nil {
				return err
			}
			saved := fmt.Sprintf("Saved %s: %s in %s.", config.KeyTelemetryMode, mode, config.FileName)
			// PACE's own opt-out would keep `enable` from taking effect;
			// enabling is an explicit wish, so lift it.
			if n := st.settings.UploadIntervalSeconds; mode == telemetry.On && n != nil && *n < 0 {
				if err := config.Set(st.dir, config.KeyUploadInterval, nil); err != nil {
					return err
				}
				saved += fmt.Sprintf(" Removed %s: %d.", config.KeyUploadInterval, *n)
			}
			st, err = e.telemetryState()
			if err != nil {
				return err
			}
			fmt.Fprintln(e.Out, saved)
			if st.decision.Mode != mode {
				fmt.Fprintf(e.Out, "Telemetry stays %s: %s.\n", st.decision.Mode, st.decision.Reason)
				return nil
			}
			switch mode {
			case telemetry.On:
				fmt.Fprintln(e.Out, "Telemetry is on: commands are counted, and pace-telemetryd may upload the counts.")
			case telemetry.Local:
				fmt.Fprintln(e.Out, "Telemetry is local: commands are counted, and the counts never leave this machine.")
			case telemetry.Off:
				fmt.Fprintf(e.Out, "Telemetry is off: nothing is counted. Counts already kept stay in %s; delete it to remove them.\n", st.store.Path())
			}
			return nil
		},
	}
}

func newTelemetryResetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "reset",
		Short: "Start over: a new random id and no counts",
		// Counting the reset itself would undo it.
		Annotations: map[string]string{skipTelemetry: ""},
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := e.telemetryState()
			if err != nil {
				return err
			}
			if _, err := st.store.Load(); errors.Is(err, fs.ErrNotExist) && st.decision.Mode == telemetry.Off {
				fmt.Fprintln(e.Out, "Nothing to reset: no counts are kept.")
				return nil
			}
			if err := st.store.Reset(); err != nil {
				return err
			}
			p, err := st.store.Load()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "Reset %s: new id %s, no counts.\n", st.store.Path(), p.ID)
			return nil
		},
	}
}
