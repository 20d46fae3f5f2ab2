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
	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/daemon"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
)

// Exit codes of pace-telemetryd (documented in README.md).
const (
	exitOK          = 0
	exitError       = 1 // an upload or a service action failed
	exitUsage       = command.ExitUsage
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
	output                  command.Output
}

// versionInfo is what `pace-telemetryd version` prints, with the receiver
// built in (stamped at release, see internal/build).
func versionInfo() command.VersionInfo {
	v := command.NewVersionInfo("pace-telemetryd", build.Version())
	endpoint := upload.Redact(build.DefaultEndpoint())
	v.DefaultEndpoint = &endpoint
	return v
}

// Main runs pace-telemetryd with args and returns its exit code.
func Main(args []string, streams IO, getenv config.Getenv) int {
	o := &options{IO: streams, getenv: getenv}
	_, code := command.Execute(o.newRoot(), args, o.Err, "pace-telemetryd: ", exitCode)
	return code
}

// exitCode maps a command's error to the exit code; usage errors are
// command.ExitUsage, mapped by command.Execute.
func exitCode(err error) int {
	if errors.Is(err, daemon.ErrRunning) {
		return exitRunning
	}
	return exitError
}

// Command is pace-telemetryd's command tree with nothing to write to, for
// generating man pages and shell completions.
func Command() *cobra.Command {
	return (&options{IO: IO{Out: io.Discard, Err: io.Discard}, getenv: func(string) string { return "" }}).newRoot()
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
		Example: command.Examples(
			"pace-telemetryd install --endpoint https://telemetry.example.com/   # a user service, started at login",
			"pace-telemetryd status -o json",
			"pace-telemetryd flush    # upload once now",
			"pace-telemetryd run      # in the foreground",
		),
	}
	root.SetOut(o.Out)
	root.SetErr(o.Err)
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		o.intervalSet = c.Flags().Changed("telemetry-upload-interval-seconds")
		return o.output.Validate()
	}
	f := root.PersistentFlags()
	f.StringVar(&o.configPath, "config-path", "", "the pace config folder (default: $PACE_CONFIG_PATH, $XDG_CONFIG_HOME/pace or ~/.config/pace)")
	f.StringVar(&o.endpoint, "endpoint", "", "receiver URL (default: $PACE_TELEMETRY_ENDPOINT, telemetry-endpoint in config.yaml, or built in)")
	f.IntVar(&o.interval, "telemetry-upload-interval-seconds", 0, "least seconds between uploads; -1 never uploads (default: $PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS, config.yaml, or 3600)")
	f.DurationVar(&o.debounce, "debounce", daemon.DefaultDebounce, "quiet time after a change before uploading")
	f.DurationVar(&o.timeout, "timeout", upload.DefaultTimeout, "time limit of one upload")
	f.BoolVar(&o.system, "system", false, "install, control or query a machine-wide service instead of a per-user one")
	f.DurationVar(&o.backoffBase, "backoff-base", daemon.DefaultBackoffBase, "first retry delay")
	f.DurationVar(&o.backoffMax, "backoff-max", daemon.DefaultBackoffMax, "longest retry delay")
	f.MarkHidden("backoff-base")
	f.MarkHidden("backoff-max")
	_ = root.MarkPersistentFlagDirname("config-path")
	for _, name := range []string{"endpoint", "telemetry-upload-interval-seconds", "debounce", "timeout"} {
		_ = root.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	root.AddCommand(o.runCmd(), o.flushCmd(), o.statusCmd())
	for _, action := range []string{"install", "uninstall", "start", "stop", "restart"} {
		root.AddCommand(o.controlCmd(action))
	}
	command.AddVersion(root, versionInfo, &o.output, func() io.Writer { return o.Out })
	command.AddOutputFlag(root, &o.output)
	command.Prepare(root)
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
		return daemon.Config{}, command.Usagef("--telemetry-upload-interval-seconds %d: use -1 (never) or a number of seconds", o.interval)
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
		Use:     "run",
		Short:   "Run in the foreground (what the service manager starts)",
		Example: command.Examples("pace-telemetryd run --endpoint http://127.0.0.1:8080/ --debounce 0"),
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
		Use:     "flush",
		Short:   "Upload once now and exit: 0 when delivered or nothing to send",
		Example: command.Examples("pace-telemetryd flush", "pace-telemetryd flush --timeout 10s"),
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
	example := "pace-telemetryd " + action
	if action == "install" {
		example = "pace-telemetryd install --endpoint https://telemetry.example.com/\n  pace-telemetryd install --system   # at boot, for every user"
	}
	return &cobra.Command{
		Use:     action,
		Short:   short,
		Example: command.Examples(example),
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

// statusReport is `pace-telemetryd status -o json`, also read by
// `pace telemetry status`; its shape is documented in docs/daemon.md.
type statusReport struct {
	Service      serviceReport `json:"service" yaml:"service"`
	Endpoint     string        `json:"endpoint" yaml:"endpoint"` // redacted; "" when none
	EndpointFrom string        `json:"endpoint_from" yaml:"endpoint_from"`
	Mode         string        `json:"mode" yaml:"mode"`
	ModeReason   string        `json:"mode_reason" yaml:"mode_reason"`
	Interval     string        `json:"interval" yaml:"interval"`                 // in words
	IntervalSecs int64         `json:"interval_seconds" yaml:"interval_seconds"` // -1: never; 0: every change
	IntervalFrom string        `json:"interval_from" yaml:"interval_from"`
	Uploads      bool          `json:"uploads" yaml:"uploads"`
	UploadsOff   string        `json:"uploads_off_reason,omitempty" yaml:"uploads_off_reason,omitempty"`
	StateError   string        `json:"state_error,omitempty" yaml:"state_error,omitempty"`
	LastUpload   *time.Time    `json:"last_upload" yaml:"last_upload"`
	LastAttempt  *time.Time    `json:"last_attempt" yaml:"last_attempt"`
	LastError    string        `json:"last_error" yaml:"last_error"`
	Failures     int           `json:"failures" yaml:"failures"`
	Pending      string        `json:"pending" yaml:"pending"`
}

// serviceReport is the OS service: State is running, stopped, not
// installed or unknown; Manager the service manager (linux-systemd, …).
type serviceReport struct {
	State   string `json:"state" yaml:"state"`
	Manager string `json:"manager" yaml:"manager"`
	Detail  string `json:"detail,omitempty" yaml:"detail,omitempty"`
}

func (s serviceReport) String() string {
	switch {
	case s.Detail != "":
		return s.State + " (" + s.Detail + ")"
	case s.Manager != "":
		return s.State + " (" + s.Manager + ")"
	}
	return s.State
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (o *options) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show the service, the settings, the last upload and what is pending",
		Example: command.Examples("pace-telemetryd status", "pace-telemetryd status -o json"),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := o.daemonConfig(nil)
			if err != nil {
				return err
			}
			s := cfg.Resolve()
			r := statusReport{
				Service:      o.serviceState(cfg.Dir),
				Endpoint:     upload.Redact(s.Endpoint),
				EndpointFrom: s.EndpointFrom,
				Mode:         string(s.Decision.Mode),
				ModeReason:   s.Decision.Reason,
				Interval:     s.Every(),
				IntervalSecs: int64(s.Interval / time.Second),
				IntervalFrom: s.IntervalFrom,
			}
			if s.Interval < 0 {
				r.IntervalSecs = -1
			}
			r.Uploads, r.UploadsOff = s.Uploads()
			st, err := telemetry.LoadUploadState(cfg.Dir)
			if err != nil {
				r.StateError = err.Error()
			}
			r.LastUpload, r.LastAttempt = timeOrNil(st.LastSuccess), timeOrNil(st.LastAttempt)
			r.LastError, r.Failures = st.LastError, st.Failures
			r.Pending = pending(cfg.Dir, s.Endpoint, st)
			if o.output.Structured() {
				return o.output.Print(o.Out, r)
			}
			w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "service:\t%s\n", r.Service)
			endpoint := r.Endpoint
			if s.Endpoint == "" {
				endpoint = "none"
			}
			fmt.Fprintf(w, "endpoint:\t%s (%s)\n", endpoint, r.EndpointFrom)
			fmt.Fprintf(w, "mode:\t%s (%s)\n", r.Mode, r.ModeReason)
			fmt.Fprintf(w, "interval:\t%s (%s)\n", s.Every(), r.IntervalFrom)
			if !r.Uploads {
				fmt.Fprintf(w, "uploads:\toff: %s\n", r.UploadsOff)
			}
			if r.StateError != "" {
				fmt.Fprintf(w, "state:\tunreadable (%s)\n", r.StateError)
			}
			fmt.Fprintf(w, "last upload:\t%s\n", when(st.LastSuccess))
			if st.LastError != "" {
				fmt.Fprintf(w, "last error:\t%s (at %s, %d failures in a row)\n", st.LastError, when(st.LastAttempt), st.Failures)
			} else {
				fmt.Fprintf(w, "last error:\tnone\n")
			}
			fmt.Fprintf(w, "pending:\t%s\n", r.Pending)
			return w.Flush()
		},
	}
}

func (o *options) serviceState(dir string) serviceReport {
	s, err := newService(dir, o.system, nil)
	if err != nil {
		return serviceReport{State: "unknown", Detail: "no service manager found"}
	}
	r := serviceReport{State: "unknown", Manager: s.Platform()}
	st, err := s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		r.State = "not installed"
	case err != nil:
		r.Detail = err.Error()
	case st == service.StatusRunning:
		r.State = "running"
	case st == service.StatusStopped:
		r.State = "stopped"
	}
	return r
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
