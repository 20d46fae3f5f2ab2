// Package daemoncmd is pace-telemetryd's command tree: run the daemon,
// upload once, and install it as an OS service.
package daemoncmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pace-cli/pace/internal/build"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/daemon"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
)

// Exit codes of pace-telemetryd (documented in README.md).
const (
	exitOK          = 0
	exitError       = 1 // an upload or a service action failed
	exitUsage       = 2
	exitRunning     = 3 // another daemon holds the config folder
	exitInterrupted = 130
)

// IO holds the streams; tests pass buffers.
type IO struct{ Out, Err io.Writer }

type options struct {
	IO
	getenv     config.Getenv
	configPath string
	endpoint   string
	interval   int
	debounce   time.Duration
	timeout    time.Duration
	system     bool
	heldExit   int // exit code when another daemon holds the folder

	backoffBase, backoffMax time.Duration // hidden: for tests
	flags                   *pflag.FlagSet
}

type usageError struct{ error }

// Main runs pace-telemetryd with args and returns its exit code.
func Main(args []string, streams IO, getenv config.Getenv) int {
	o := &options{IO: streams, getenv: getenv}
	root := o.newRoot()
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	if journalStream() {
		fmt.Fprintf(o.Err, "<%d>", daemon.Error) // the journal's priority prefix
	}
	fmt.Fprintln(o.Err, "pace-telemetryd:", upload.Sanitize(err.Error(), 4*upload.MaxAnswer))
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(o.Err, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	case errors.Is(err, daemon.ErrRunning):
		return o.heldExit
	}
	return exitError
}

func (o *options) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "pace-telemetryd",
		Short: "Upload pace's usage counts in the background",
		Long: `pace-telemetryd watches telemetry.yaml in the pace config folder and uploads
the counts to the PACE receiver when they change, at most once per upload
interval, retrying with backoff. It uploads only while telemetry is on; see
'pace telemetry status'. Every upload is logged, body and answer, in
telemetry-sent.log beside telemetry.yaml.`,
		Version:       build.Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(o.Out)
	root.SetErr(o.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := root.PersistentFlags()
	o.flags = f
	f.StringVar(&o.configPath, "config-path", "", "the pace config folder (default: $PACE_CONFIG_PATH, else ~/.config/pace)")
	f.StringVar(&o.endpoint, "endpoint", "", "receiver URL (default: $PACE_TELEMETRY_ENDPOINT, telemetry-endpoint in config.yaml, or built in)")
	f.IntVar(&o.interval, "telemetry-upload-interval-seconds", 0, "least seconds between uploads; -1 never uploads (default: $PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS, config.yaml, or 3600)")
	f.DurationVar(&o.debounce, "debounce", daemon.DefaultDebounce, "quiet time after a change before uploading")
	f.DurationVar(&o.timeout, "timeout", upload.DefaultTimeout, "time limit of one upload")
	f.BoolVar(&o.system, "system", false, "install, control or query a machine-wide service instead of a per-user one")
	f.DurationVar(&o.backoffBase, "backoff-base", daemon.DefaultBackoffBase, "first retry delay")
	f.DurationVar(&o.backoffMax, "backoff-max", daemon.DefaultBackoffMax, "longest retry delay")
	f.IntVar(&o.heldExit, "held-exit-code", exitRunning, "exit code when another daemon holds the folder (launchd: 0, so that it does not respawn)")
	f.MarkHidden("backoff-base")
	f.MarkHidden("backoff-max")
	f.MarkHidden("held-exit-code")
	root.AddCommand(o.runCmd(), o.flushCmd(), o.statusCmd())
	for _, action := range []string{"install", "uninstall", "start", "stop", "restart"} {
		root.AddCommand(o.controlCmd(action))
	}
	for _, c := range root.Commands() {
		c.Args = func(c *cobra.Command, args []string) error {
			if err := cobra.NoArgs(c, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	return root
}

func (o *options) dir() (string, error) {
	if o.configPath != "" {
		return o.configPath, nil
	}
	return config.Dir(o.getenv)
}

func (o *options) daemonConfig(logf func(daemon.Priority, string, ...any)) (daemon.Config, error) {
	dir, err := o.dir()
	if err != nil {
		return daemon.Config{}, err
	}
	if o.interval < -1 {
		return daemon.Config{}, usageError{fmt.Errorf("--telemetry-upload-interval-seconds %d: use -1 (never) or a number of seconds", o.interval)}
	}
	c := daemon.Config{
		Dir:      dir,
		Getenv:   o.getenv,
		Endpoint: o.endpoint,
		Version:  build.Version(),
		Client:   &http.Client{Timeout: o.timeout},
		Logf:     logf,

		BackoffBase: o.backoffBase,
		BackoffMax:  o.backoffMax,
	}
	if o.flags.Changed("debounce") {
		c.Debounce = &o.debounce
	}
	if o.flags.Changed("telemetry-upload-interval-seconds") {
		i := daemon.IntervalSeconds(o.interval)
		c.Interval = &i
	}
	return c, nil
}

func (o *options) runCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run in the foreground (what the service manager starts)",
		RunE: func(c *cobra.Command, _ []string) error {
			logf := o.logger()
			cfg, err := o.daemonConfig(logf)
			if err != nil {
				return err
			}
			err = runService(func() (func(), error) { return daemon.Lock(cfg.Dir) },
				func(ctx context.Context) error { return daemon.Serve(ctx, cfg) }, logf)
			return err
		},
	}
}

func (o *options) flushCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "flush",
		Short: "Upload once now and exit: 0 when delivered or nothing to send",
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := o.daemonConfig(nil) // Flush's own outcome is printed below
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout+time.Second)
			defer cancel()
			s, res, err := daemon.Flush(ctx, cfg)
			if err != nil {
				return err
			}
			if ok, whyNot := s.Uploads(); !ok {
				fmt.Fprintf(o.Out, "Nothing uploaded: %s.\n", whyNot)
				return nil
			}
			switch res.Outcome {
			case upload.Delivered:
				fmt.Fprintf(o.Out, "Delivered to %s.\n", upload.Redact(s.Endpoint))
			default:
				fmt.Fprintln(o.Out, "Nothing to send: the counts are as last delivered, or none are recorded.")
			}
			return nil
		},
	}
}

func (o *options) controlCmd(action string) *cobra.Command {
	short := map[string]string{
		"install":   "Install as a service that starts at login (--system: at boot), enabled but not started",
		"uninstall": "Stop the service and remove it",
		"start":     "Start the installed service",
		"stop":      "Stop the service (after one last upload)",
		"restart":   "Restart the service, or start it if stopped",
	}[action]
	return &cobra.Command{
		Use:   action,
		Short: short,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.system {
				if err := needAdmin(); err != nil {
					return fmt.Errorf("%s --system: %w", action, err)
				}
			}
			m := newManager(o.system)
			var spec Spec
			if action == "install" {
				var err error
				if spec, err = o.spec(); err != nil {
					return fmt.Errorf("install: %w", err)
				}
			}
			if err := control(m, action, spec); err != nil {
				return fmt.Errorf("%s (%s): %w", action, m.Platform(), err)
			}
			if action != "install" {
				fmt.Fprintf(o.Out, "%s: done (%s).\n", action, m.Platform())
				return nil
			}
			as, when, flag := "", "login", ""
			if spec.User != "" {
				as = ", runs as " + spec.User
			}
			if o.system {
				when, flag = "boot", " --system"
			}
			fmt.Fprintf(o.Out, "install: done (%s%s): %s %s\nIt starts at %s; to start it now: pace-telemetryd start%s\n",
				m.Platform(), as, spec.Exe, redactArgs(spec.Args), when, flag)
			return nil
		},
	}
}

// spec is what install installs: this program, run on the config folder
// chosen now, with the settings given as flags.
func (o *options) spec() (Spec, error) {
	dir, err := o.dir()
	if err != nil {
		return Spec{}, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return Spec{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return Spec{}, err
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	args := []string{"run", "--config-path", dir}
	if o.endpoint != "" {
		args = append(args, "--endpoint", o.endpoint)
	}
	for _, name := range []string{"telemetry-upload-interval-seconds", "debounce", "timeout"} {
		if f := o.flags.Lookup(name); f.Changed {
			args = append(args, "--"+name+"="+f.Value.String())
		}
	}
	spec := Spec{System: o.system, Exe: exe, Args: args}
	if o.system {
		// A machine-wide service still runs as whoever owns the folder, so
		// that the user's own pace can read what it writes.
		if spec.User, err = folderOwner(dir, o.getenv); err != nil {
			return Spec{}, err
		}
	}
	return spec, nil
}

// redactArgs shows installed arguments with the endpoint redacted.
func redactArgs(args []string) string {
	shown := append([]string{}, args...)
	for i := range shown {
		if i > 0 && shown[i-1] == "--endpoint" {
			shown[i] = upload.Redact(shown[i])
		} else if v, ok := strings.CutPrefix(shown[i], "--endpoint="); ok {
			shown[i] = "--endpoint=" + upload.Redact(v)
		}
	}
	return quoteArgs(shown)
}

func (o *options) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the service, the settings it runs with, the last upload and what is pending",
		RunE: func(c *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
			m := newManager(o.system)
			st, err := m.Status()
			if err != nil {
				fmt.Fprintf(w, "service:\tunknown (%s: %v)\n", m.Platform(), err)
			} else {
				fmt.Fprintf(w, "service:\t%s\n", st)
			}
			// The settings are those of the installed service, with the
			// flags given here on top.
			eff := o
			if st.State != NotInstalled {
				if args, err := m.Installed(); err != nil {
					fmt.Fprintf(w, "installed:\tcannot be read (%v)\n", err)
				} else if inst, err := o.installed(args); err != nil {
					fmt.Fprintf(w, "installed:\t%s (%v)\n", redactArgs(args), err)
				} else {
					fmt.Fprintf(w, "installed:\t%s\n", redactArgs(args))
					eff = inst
				}
			}
			cfg, err := eff.daemonConfig(nil)
			if err != nil {
				return err
			}
			s := cfg.Resolve()
			endpoint := upload.Redact(s.Endpoint)
			if s.Endpoint == "" {
				endpoint = "none"
			}
			fmt.Fprintf(w, "config folder:\t%s\n", cfg.Dir)
			fmt.Fprintf(w, "endpoint:\t%s (%s)\n", endpoint, s.EndpointFrom)
			fmt.Fprintf(w, "mode:\t%s (%s)\n", s.Decision.Mode, s.Decision.Reason)
			fmt.Fprintf(w, "interval:\t%s (%s)\n", s.Every(), s.IntervalFrom)
			if ok, whyNot := s.Uploads(); !ok {
				fmt.Fprintf(w, "uploads:\toff: %s\n", whyNot)
			}
			up, err := upload.LoadState(cfg.Dir)
			if err != nil {
				fmt.Fprintf(w, "state:\tunreadable (%s)\n", upload.Sanitize(err.Error(), upload.MaxAnswer))
			}
			fmt.Fprintf(w, "last upload:\t%s\n", when(up.LastSuccess))
			if up.LastError != "" {
				fmt.Fprintf(w, "last error:\t%s (at %s, %d failures in a row)\n", up.LastError, when(up.LastAttempt), up.Failures)
			} else {
				fmt.Fprintf(w, "last error:\tnone\n")
			}
			fmt.Fprintf(w, "pending:\t%s\n", pending(cfg.Dir, s.Endpoint, up))
			return w.Flush()
		},
	}
}

// installed reads the installed service's arguments (run and its flags)
// as options; flags given to this command win.
func (o *options) installed(args []string) (*options, error) {
	if len(args) == 0 || args[0] != "run" {
		return nil, errors.New("not a 'pace-telemetryd run' command")
	}
	i := &options{IO: o.IO, getenv: o.getenv}
	i.newRoot()
	if err := i.flags.Parse(args[1:]); err != nil {
		return nil, err
	}
	var err error
	o.flags.VisitAll(func(f *pflag.Flag) {
		if !f.Changed {
			return
		}
		if e := i.flags.Set(f.Name, f.Value.String()); e != nil && err == nil {
			err = e
		}
	})
	return i, err
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s (%v ago)", t.Local().Format(time.RFC3339), time.Since(t).Round(time.Second))
}

// pending says whether the counts differ from what was last delivered.
func pending(dir, endpoint string, st upload.State) string {
	p, err := (&telemetry.Store{Dir: dir}).Load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no counts recorded yet"
	case err != nil:
		return fmt.Sprintf("telemetry.yaml cannot be read (%v)", err)
	}
	body, _ := p.Marshal()
	switch {
	case upload.Digest(body) == st.DeliveredDigest:
		return "no: the counts are as last delivered"
	case upload.RefusedKey(endpoint, body) == st.RejectedDigest:
		return "held: the receiver refused these counts; waiting for them to change"
	}
	return fmt.Sprintf("yes: %d counters not yet delivered as they are now", p.Counters())
}
