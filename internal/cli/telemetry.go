package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/daemon"
	"github.com/pace-cli/pace/internal/lockedfile"
	"github.com/pace-cli/pace/internal/machinepolicy"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
)

func newTelemetryCmd(e *env) *cobra.Command {
	c := group("telemetry", "See and control the usage counts pace keeps",
		newTelemetryStatusCmd(e),
		newTelemetryShowCmd(e),
		withUpload(e, newTelemetryModeCmd(e, "enable", telemetry.On, "Count commands; the daemon, if you run it, uploads the counts")),
		newTelemetryModeCmd(e, "local", telemetry.Local, "Count commands, but never upload the counts"),
		newTelemetryModeCmd(e, "disable", telemetry.Off, "Count nothing"),
		newTelemetryResetCmd(e),
		newTelemetryForgetCmd(e),
		newTelemetryCleanCmd(e),
	)
	c.Long = `pace counts how often each command ran and with which exit code, in
telemetry.yaml in the pace config folder. It never records arguments, flag
values, paths, host or user names. pace itself never sends anything: the
optional daemon pace-telemetryd uploads the counts when telemetry is on.

DO_NOT_TRACK=1 or PACE_TELEMETRY_DISABLED=1 turn counting off whatever
config.yaml says. PACE_TELEMETRY_NOTICE=off hides the first-run notice and
changes nothing else.`
	c.Example = command.Examples(
		"pace telemetry status",
		"pace telemetry local     # keep counting, never upload",
		"pace telemetry disable   # count nothing",
		"pace telemetry clean     # delete the counts and the upload log, keep the setting",
	)
	return c
}

// telemetryState is what the telemetry commands look at.
type telemetryState struct {
	dir      string
	settings config.Settings
	decision telemetry.Decision
	policy   machinepolicy.Policy
	store    *telemetry.Store
}

func (e *env) telemetryState() (*telemetryState, error) {
	dir, err := config.Dir(e.getenv)
	if err != nil {
		return nil, err
	}
	settings, serr := config.Load(dir)
	policy := machinepolicy.Load()
	return &telemetryState{
		dir:      dir,
		settings: settings,
		decision: telemetry.Restrict(telemetry.DecideRun(e.getenv, settings, serr, e.uploadInterval), policy),
		policy:   policy,
		store:    &telemetry.Store{Dir: dir, Version: e.version},
	}, nil
}

// telemetryStatus is `pace telemetry status -o json`: a stable shape,
// documented in docs/telemetry.md.
type telemetryStatus struct {
	Mode   telemetry.Mode `json:"mode" yaml:"mode"`
	Reason string         `json:"reason" yaml:"reason"`
	Folder string         `json:"config_folder" yaml:"config_folder"`
	File   string         `json:"file" yaml:"file"`
	// Counts is "none" (no file yet), "kept" or "unreadable".
	Counts    string `json:"counts" yaml:"counts"`
	FileError string `json:"file_error,omitempty" yaml:"file_error,omitempty"`
	ID        string `json:"id" yaml:"id"`
	Counters  int    `json:"counters" yaml:"counters"`
	// Policy is the machine's policy (set by an administrator).
	Policy   machinepolicy.Report `json:"policy" yaml:"policy"`
	Uploader daemon.Status        `json:"uploader" yaml:"uploader"`
	// Erasure describes each `pace telemetry forget` request not yet
	// confirmed by the receiver.
	Erasure []string `json:"erasure_requests,omitempty" yaml:"erasure_requests,omitempty"`
	// Notice is the version of the first-run notice last shown here (0:
	// never); NoticeVersion is the current one, shown once more to an
	// install that saw an older one.
	Notice        int `json:"notice_shown" yaml:"notice_shown"`
	NoticeVersion int `json:"notice_version" yaml:"notice_version"`
	// Problem is why nothing is counted in this folder or file now (a
	// folder others can write, a link or a pipe in the way); "" when none.
	Problem string `json:"problem,omitempty" yaml:"problem,omitempty"`
	// badContent: the file was read, and is not counts pace understands
	// (rather than not readable now: held by a stuck run, say).
	badContent bool
}

func newTelemetryStatusCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether counting is on, why, where the counts are, and the uploader",
		Example: command.Examples(
			"pace telemetry status",
			"pace telemetry status -o json | jq .uploader.last_upload",
		),
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := e.telemetryState()
			if err != nil {
				return err
			}
			r := telemetryStatus{Mode: st.decision.Mode, Reason: st.decision.Reason, Folder: st.dir, File: st.store.Path(), Counts: "kept",
				Notice: noticeShown(st.dir), NoticeVersion: NoticeVersion, Policy: st.policy.Report(upload.Redact)}
			if err := st.store.Check(); err != nil {
				r.Problem = err.Error()
			}
			p, err := st.store.Load()
			switch {
			case errors.Is(err, fs.ErrNotExist):
				r.Counts = "none"
			case err != nil:
				r.Counts, r.FileError = "unreadable", err.Error()
				r.badContent = errors.Is(err, telemetry.ErrUnreadable)
			default:
				r.ID, r.Counters = p.ID, p.Counters()
			}
			r.Uploader = e.uploaderStatus(st.dir)
			if r.Erasure, err = upload.ForgetStatus(st.dir); err != nil {
				r.Erasure = []string{"unknown: " + err.Error()}
			}
			if e.output.Structured() {
				return e.print(r)
			}
			return r.text(e.Out)
		},
	}
}

func (r telemetryStatus) text(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "mode:\t%s\n", r.Mode)
	fmt.Fprintf(w, "set by:\t%s\n", r.Reason)
	r.Policy.Lines(w)
	fmt.Fprintf(w, "file:\t%s\n", r.File)
	if r.Problem != "" {
		fmt.Fprintf(w, "problem:\t%s; nothing is counted until it is gone\n", r.Problem)
	}
	switch r.Counts {
	case "none":
		fmt.Fprintf(w, "counters:\tnone recorded yet\n")
	case "unreadable":
		if r.badContent {
			fmt.Fprintf(w, "counters:\tthe file cannot be read (%s); the next counted run moves it aside\n", r.FileError)
		} else {
			fmt.Fprintf(w, "counters:\tthe file cannot be read now (%s); try again\n", r.FileError)
		}
	default:
		fmt.Fprintf(w, "id:\t%s\n", r.ID)
		fmt.Fprintf(w, "counters:\t%d\n", r.Counters)
	}
	switch {
	case r.Notice == 0:
		fmt.Fprintf(w, "notice:\tnot shown yet (version %d is shown on the next counted run)\n", r.NoticeVersion)
	case r.Notice < r.NoticeVersion:
		fmt.Fprintf(w, "notice:\tversion %d shown; version %d, which says what changed, is shown on the next counted run\n", r.Notice, r.NoticeVersion)
	default:
		fmt.Fprintf(w, "notice:\tversion %d shown\n", r.Notice)
	}
	u := r.Uploader
	if u.Program == "" {
		fmt.Fprintf(w, "uploader:\tnot installed (%s)\n", u.Service.Detail)
	} else {
		fmt.Fprintf(w, "uploader:\t%s\n", u.Program)
		service := u.Service.State
		if u.Service.Detail != "" {
			service += " (" + u.Service.Detail + ")"
		} else if u.Service.Manager != "" {
			service += " (" + u.Service.Manager + ")"
		}
		fmt.Fprintf(w, "service:\t%s\n", service)
	}
	switch {
	case u.StateError != "":
		fmt.Fprintf(w, "last upload:\tunknown (%s)\n", u.StateError)
	case u.LastUpload == nil:
		fmt.Fprintf(w, "last upload:\tnever\n")
	default:
		fmt.Fprintf(w, "last upload:\t%s\n", u.LastUpload.Local().Format(time.RFC3339))
	}
	if u.LastError != "" && u.LastAttempt != nil {
		fmt.Fprintf(w, "last error:\t%s (%s)\n", u.LastError, u.LastAttempt.Local().Format(time.RFC3339))
	}
	forgetLines(w, r.Erasure)
	r.uploadsLine(w)
	return w.Flush()
}

func newTelemetryShowCmd(e *env) *cobra.Command {
	var asPayload bool
	c := &cobra.Command{
		Use:   "show",
		Short: "Print the counts pace keeps, exactly as stored",
		Long: `Print telemetry.yaml as it is (also with -o yaml). With -o json, print the
counts as JSON, in the shape of the upload body (indented). With --payload,
print the exact JSON body that would be uploaded, byte for byte; nothing is
sent.`,
		Example: command.Examples(
			"pace telemetry show",
			"pace telemetry show -o json | jq '.metric_points'",
			"pace telemetry show --payload",
		),
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := e.telemetryState()
			if err != nil {
				return err
			}
			if !asPayload && e.output.Format != "json" {
				data, err := st.store.Raw()
				if errors.Is(err, fs.ErrNotExist) {
					fmt.Fprintf(e.Err, "Nothing recorded yet (%s does not exist).\n", st.store.Path())
					if e.output.Structured() {
						_, err = fmt.Fprintln(e.Out, "metric_points: {}")
						return err
					}
					return nil
				}
				if err != nil {
					return whatNext(err)
				}
				_, err = e.Out.Write(data)
				return err
			}
			p, err := st.store.Load()
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(e.Err, "Nothing recorded yet, so nothing would be uploaded.\n")
				if e.output.Format == "json" && !asPayload {
					_, err = fmt.Fprintln(e.Out, `{"metric_points": {}}`)
					return err
				}
				return nil
			}
			if err != nil {
				return whatNext(err)
			}
			marshal := p.Marshal
			if asPayload {
				marshal = func() ([]byte, error) { return upload.Body(p) }
			}
			body, err := marshal()
			if err != nil {
				return err
			}
			if !asPayload {
				var indented bytes.Buffer
				if err := json.Indent(&indented, body, "", "  "); err != nil {
					return err
				}
				body = indented.Bytes()
			}
			_, err = fmt.Fprintf(e.Out, "%s\n", body)
			return err
		},
	}
	c.Flags().BoolVar(&asPayload, "payload", false, "print the JSON body that would be uploaded, byte for byte")
	return c
}

func newTelemetryModeCmd(e *env, use string, mode telemetry.Mode, short string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: command.Examples("pace telemetry "+use, "pace telemetry status   # what is in effect, and why"),
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := e.telemetryState()
			if err != nil {
				return err
			}
			// An administrator's off cannot be lifted by a user: say so
			// rather than save a setting that changes nothing.
			if d := telemetry.Restrict(telemetry.Decision{Mode: telemetry.On}, st.policy); mode == telemetry.On && d.Mode == telemetry.Off {
				return fmt.Errorf("cannot enable telemetry: %s. Nothing was changed; 'pace telemetry status' shows the policy", d.Reason)
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
				// Say what is kept only when something is.
				if _, err := os.Lstat(st.store.Path()); err == nil {
					fmt.Fprintf(e.Out, "Telemetry is off: nothing is counted. Counts already kept stay in %s; 'pace telemetry clean' deletes them.\n", st.store.Path())
				} else {
					fmt.Fprintln(e.Out, "Telemetry is off: nothing is counted, and no counts are kept.")
				}
			}
			return nil
		},
	}
}

func newTelemetryResetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "reset",
		Short:   "Start over: a new random id and no counts",
		Example: command.Examples("pace telemetry reset"),
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

// cleanable tells whether name, in the config folder, is one of the
// telemetry files `pace telemetry clean` deletes: the counts, a file moved
// aside, a temporary file, the daemon's upload state, its sent log and the
// version of the notice shown (counting again shows it again). Lock
// files are empty and stay, as a running pace or daemon may hold them;
// config.yaml, which holds the setting, stays.
func cleanable(name string) bool {
	if strings.HasSuffix(name, ".lock") {
		return false
	}
	for _, base := range []string{config.TelemetryName, config.UploadStateName, config.SentLogName, config.ForgetName, config.NoticeName} {
		if name == base || strings.HasPrefix(name, base+".") {
			return true
		}
	}
	return false
}

func newTelemetryCleanCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "clean",
		Short: "Delete the local telemetry files; keep the setting",
		Long: `Delete what telemetry keeps in the pace config folder: telemetry.yaml (the
counts and the random id), files moved aside as unreadable, the upload
daemon's state and sent log, and erasure requests of 'pace telemetry forget'
not yet confirmed (which are then never sent). config.yaml, and so the telemetry mode, stays
as it is. While telemetry is on or local, the next command starts a new file
with a new id (and shows the first-run notice again).`,
		Example: command.Examples("pace telemetry clean"),
		// Counting the clean itself would undo it.
		Annotations: map[string]string{skipTelemetry: ""},
		RunE: func(c *cobra.Command, _ []string) error {
			dir, err := config.Dir(e.getenv)
			if err != nil {
				return err
			}
			entries, err := os.ReadDir(dir)
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintln(e.Out, "Nothing to clean: no telemetry files are kept.")
				return nil
			}
			if err != nil {
				return err
			}
			var removed []string
			for _, de := range entries {
				if de.IsDir() || !cleanable(de.Name()) {
					continue
				}
				if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("could not delete %s: %w", filepath.Join(dir, de.Name()), err)
				}
				removed = append(removed, de.Name())
			}
			if len(removed) == 0 {
				fmt.Fprintln(e.Out, "Nothing to clean: no telemetry files are kept.")
				return nil
			}
			fmt.Fprintf(e.Out, "Deleted from %s: %s. The telemetry setting is unchanged.\n", dir, strings.Join(removed, ", "))
			return nil
		},
	}
}

// whatNext adds to an error reading the telemetry file what becomes of it.
func whatNext(err error) error {
	switch {
	case errors.Is(err, telemetry.ErrUnreadable):
		return fmt.Errorf("%w; the next counted run moves the file aside", err)
	case errors.Is(err, lockedfile.ErrLockTimeout):
		return fmt.Errorf("%w; try again", err)
	}
	return err
}
