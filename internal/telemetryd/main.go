// Package telemetryd is pace-telemetryd's command tree: run the daemon,
// upload once, and install it as an OS service.
package telemetryd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

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

	backoffBase, backoffMax time.Duration // hidden: for tests
	intervalSet             bool          // --telemetry-upload-interval-seconds given, even as 0
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
	fmt.Fprintln(o.Err, "pace-telemetryd:", err)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(o.Err, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	case errors.Is(err, daemon.ErrRunning):
		return exitRunning
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
	root.PersistentPreRun = func(c *cobra.Command, _ []string) {
		o.intervalSet = c.Flags().Changed("telemetry-upload-interval-seconds")
	}
	f := root.PersistentFlags()
	f.StringVar(&o.configPath, "config-path", "", "the pace config folder (default: $PACE_CONFIG_PATH, else ~/.config/pace)")
	f.StringVar(&o.endpoint, "endpoint", "", "receiver URL (default: $PACE_TELEMETRY_ENDPOINT, telemetry-endpoint in config.yaml, or built in)")
	f.IntVar(&o.interval, "telemetry-upload-interval-seconds", 0, "least seconds between uploads; -1 never uploads (default: $PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS, config.yaml, or 3600)")
	f.DurationVar(&o.debounce, "debounce", daemon.DefaultDebounce, "quiet time after a change before uploading")
	f.DurationVar(&o.timeout, "timeout", upload.DefaultTimeout, "time limit of one upload")
	f.BoolVar(&o.system, "system", false, "install, control or query a machine-wide service instead of a per-user one")
	f.DurationVar(&o.backoffBase, "backoff-base", daemon.DefaultBackoffBase, "first retry delay")
	f.DurationVar(&o.backoffMax, "backoff-max", daemon.DefaultBackoffMax, "longest retry delay")
	f.MarkHidden("backoff-base")
	f.MarkHidden("backoff-max")
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

func (o *options) daemonConfig(logf func(string, ...any)) (daemon.Config, error) {
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
		Debounce: o.debounce,
		Version:  build.Version(),
		Client:   &http.Client{Timeout: o.timeout},
		Logf:     logf,

		BackoffBase: o.backoffBase,
		BackoffMax:  o.backoffMax,
	}
	if c.Debounce == 0 {
		c.Debounce = -1 // a flag of 0 means no debounce at all
	}
	if o.intervalSet {
		c.Interval = daemon.IntervalSeconds(o.interval)
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
			return runUntilSignal(func(ctx context.Context) error { return daemon.Run(ctx, cfg) }, logf)
		},
	}
}

// logger writes to stderr, or to the service logger (journal, syslog,
// event log) when a service manager started us.
func (o *options) logger() func(string, ...any) {
	if !service.Interactive() {
		dir, _ := o.dir()
		if s, err := newService(dir, o.system, nil); err == nil {
			if l, err := s.Logger(nil); err == nil {
				return func(format string, args ...any) { l.Infof(format, args...) }
			}
		}
	}
	l := log.New(o.Err, "pace-telemetryd: ", log.LstdFlags)
	return l.Printf
}

func (o *options) flushCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "flush",
		Short: "Upload once now and exit: 0 when delivered or nothing to send",
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := o.daemonConfig(func(format string, args ...any) { fmt.Fprintf(o.Err, format+"\n", args...) })
			if err != nil {
				return err
			}
			cfg.Logf = nil // Flush's own outcome is printed below
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
		"install":   "Install as a service that starts at login (--system: at boot)",
		"uninstall": "Remove the service",
		"start":     "Start the installed service",
		"stop":      "Stop the service",
		"restart":   "Restart the service",
	}[action]
	return &cobra.Command{
		Use:   action,
		Short: short,
		RunE: func(c *cobra.Command, _ []string) error {
			dir, err := o.dir()
			if err != nil {
				return err
			}
			var extra []string
			if o.endpoint != "" {
				extra = append(extra, "--endpoint", o.endpoint)
			}
			if c.Flags().Changed("debounce") {
				extra = append(extra, "--debounce="+o.debounce.String())
			}
			if c.Flags().Changed("timeout") {
				extra = append(extra, "--timeout="+o.timeout.String())
			}
			if o.intervalSet {
				extra = append(extra, fmt.Sprintf("--telemetry-upload-interval-seconds=%d", o.interval))
			}
			s, err := newService(dir, o.system, extra)
			if err != nil {
				return explain(action, err)
			}
			existed := unitExists(o.system)
			if err := service.Control(s, action); err != nil {
				if action == "install" && !existed {
					rollBackInstall(o.system) // so that a second try can work
				}
				return explain(action, err)
			}
			fmt.Fprintf(o.Out, "%s: done (%s).\n", action, s.Platform())
			return nil
		},
	}
}

func (o *options) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the service, the settings, the last upload and what is pending",
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := o.daemonConfig(nil)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "service:\t%s\n", o.serviceState(cfg.Dir))
			s := cfg.Resolve()
			endpoint := upload.Redact(s.Endpoint)
			if s.Endpoint == "" {
				endpoint = "none"
			}
			fmt.Fprintf(w, "endpoint:\t%s (%s)\n", endpoint, s.EndpointFrom)
			fmt.Fprintf(w, "mode:\t%s (%s)\n", s.Decision.Mode, s.Decision.Reason)
			fmt.Fprintf(w, "interval:\t%s (%s)\n", s.Every(), s.IntervalFrom)
			if ok, whyNot := s.Uploads(); !ok {
				fmt.Fprintf(w, "uploads:\toff: %s\n", whyNot)
			}
			st, err := telemetry.LoadUploadState(cfg.Dir)
			if err != nil {
				fmt.Fprintf(w, "state:\tunreadable (%v)\n", err)
			}
			fmt.Fprintf(w, "last upload:\t%s\n", when(st.LastSuccess))
			if st.LastError != "" {
				fmt.Fprintf(w, "last error:\t%s (at %s, %d failures in a row)\n", st.LastError, when(st.LastAttempt), st.Failures)
			} else {
				fmt.Fprintf(w, "last error:\tnone\n")
			}
			fmt.Fprintf(w, "pending:\t%s\n", pending(cfg.Dir, s.Endpoint, st))
			return w.Flush()
		},
	}
}

func (o *options) serviceState(dir string) string {
	s, err := newService(dir, o.system, nil)
	if err != nil {
		return "no service manager found"
	}
	st, err := s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return "not installed (" + s.Platform() + ")"
	case err != nil:
		return fmt.Sprintf("unknown (%v)", err)
	case st == service.StatusRunning:
		return "running (" + s.Platform() + ")"
	case st == service.StatusStopped:
		return "stopped (" + s.Platform() + ")"
	}
	return "unknown (" + s.Platform() + ")"
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s (%v ago)", t.Local().Format(time.RFC3339), time.Since(t).Round(time.Second))
}

// pending says whether the counts differ from what was last delivered.
func pending(dir, endpoint string, st telemetry.UploadState) string {
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
