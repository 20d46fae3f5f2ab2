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
	heldExit   int // exit code when another daemon holds the folder
	supervised bool

	backoffBase, backoffMax time.Duration // hidden: for tests
	flags                   *pflag.FlagSet
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
	o := &options{IO: backgroundStreams(streams), getenv: getenv}
	prefix := "pace-telemetryd: "
	if journalStream() {
		prefix = fmt.Sprintf("<%d>", daemon.Error) + prefix // the journal's priority
	}
	_, code := command.Execute(o.newRoot(), args, sanitizedLines{o.Err}, prefix, func(err error) int {
		if errors.Is(err, daemon.ErrRunning) {
			return o.heldExit
		}
		return exitError
	})
	return code
}

// sanitizedLines writes each line with what a receiver may have put in an
// error escaped and bounded, so that a hostile answer cannot forge lines
// or send terminal escapes.
type sanitizedLines struct{ w io.Writer }

func (s sanitizedLines) Write(p []byte) (int, error) {
	line, nl := strings.CutSuffix(string(p), "\n")
	out := upload.Sanitize(line, 4*upload.MaxAnswer)
	if nl {
		out += "\n"
	}
	if _, err := io.WriteString(s.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
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
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return o.output.Validate() }
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
	f.BoolVar(&o.supervised, "supervised", false, "run by the Windows uploader's supervisor (it serves, and does not supervise)")
	f.MarkHidden("supervised")
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

func (o *options) daemonConfig(logf func(daemon.Priority, string, ...any)) (daemon.Config, error) {
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
		Use:     "run",
		Short:   "Run in the foreground (what the service manager starts)",
		Example: command.Examples("pace-telemetryd run --endpoint http://127.0.0.1:8080/ --debounce 0"),
		RunE: func(c *cobra.Command, _ []string) error {
			logf := o.logger()
			cfg, err := o.daemonConfig(logf)
			if err != nil {
				return err
			}
			err = runService(cfg.Dir, o.supervised, func() (func(), error) { return daemon.Lock(cfg.Dir) },
				func(ctx context.Context) error { return daemon.Serve(ctx, cfg) }, logf)
			return err
		},
	}
}

func (o *options) flushCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "flush",
		Short:   "Upload once now and exit: 0 when delivered or nothing to send",
		Example: command.Examples("pace-telemetryd flush", "pace-telemetryd flush --timeout 10s"),
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := o.daemonConfig(nil) // Flush's own outcome is printed below
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout+time.Second)
			defer cancel()
			fr, err := daemon.FlushForgets(ctx, cfg)
			for _, e := range fr.Erased {
				fmt.Fprintf(o.Out, "Erasure confirmed by the receiver: %s.\n", e)
			}
			if err != nil {
				return fmt.Errorf("erasure request: %w", err)
			}
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
	example := "pace-telemetryd " + action
	if action == "install" {
		example = "pace-telemetryd install --endpoint https://telemetry.example.com/\n  pace-telemetryd install --system   # at boot, for every user"
	}
	return &cobra.Command{
		Use:     action,
		Short:   short,
		Example: command.Examples(example),
		RunE: func(c *cobra.Command, _ []string) error {
			if o.system && action == "install" {
				if err := refuseSystemInstall(); err != nil {
					return fmt.Errorf("install --system: %w", err)
				}
			}
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
			exe := spec.Exe
			if p, ok := m.(interface{ Program() string }); ok {
				exe = p.Program() // a copy of spec.Exe
			}
			fmt.Fprintf(o.Out, "install: done (%s%s): %s %s\nIt starts at %s; to start it now: pace-telemetryd start%s\n",
				m.Platform(), as, exe, redactArgs(spec.Args), when, flag)
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

// statusReport is `pace-telemetryd status -o json`, also read by
// `pace telemetry status`; its shape is documented in docs/daemon.md.
type statusReport struct {
	Service      serviceReport `json:"service" yaml:"service"`
	Installed    string        `json:"installed,omitempty" yaml:"installed,omitempty"` // the installed command, endpoint redacted
	ConfigFolder string        `json:"config_folder" yaml:"config_folder"`
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
	// Erasure describes each erasure request not yet confirmed.
	Erasure []string `json:"erasure_requests,omitempty" yaml:"erasure_requests,omitempty"`
}

// serviceReport is the OS service: State is running, stopped,
// restarting after a failure, failed, not installed or unknown; Manager
// the service manager (linux-systemd, …); Detail what it says (an exit
// status, an error).
type serviceReport struct {
	State   string `json:"state" yaml:"state"`
	Manager string `json:"manager" yaml:"manager"`
	Detail  string `json:"detail,omitempty" yaml:"detail,omitempty"`
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
		Short:   "Show the service, the settings it runs with, the last upload and what is pending",
		Example: command.Examples("pace-telemetryd status", "pace-telemetryd status -o json"),
		RunE: func(c *cobra.Command, _ []string) error {
			var r statusReport
			var notes []string // what text shows of a settings problem
			m := newManager(o.system)
			st, err := m.Status()
			if err != nil {
				r.Service = serviceReport{State: "unknown", Manager: m.Platform(), Detail: err.Error()}
			} else {
				r.Service = serviceReport{State: st.State.String(), Manager: m.Platform(), Detail: st.Detail}
			}
			// The settings are those of the installed service, with the
			// flags given here on top.
			eff := o
			if err == nil && st.State != NotInstalled {
				if args, err := m.Installed(); err != nil {
					notes = append(notes, fmt.Sprintf("installed:\tcannot be read (%v)", err))
				} else if inst, err := o.installed(args); err != nil {
					r.Installed = redactArgs(args)
					notes = append(notes, fmt.Sprintf("installed:\t%s (%v)", r.Installed, err))
				} else {
					r.Installed = redactArgs(args)
					eff = inst
				}
			}
			cfg, err := eff.daemonConfig(nil)
			if err != nil {
				return err
			}
			s := cfg.Resolve()
			r.ConfigFolder = cfg.Dir
			r.Endpoint, r.EndpointFrom = upload.Redact(s.Endpoint), s.EndpointFrom
			r.Mode, r.ModeReason = string(s.Decision.Mode), s.Decision.Reason
			r.Interval, r.IntervalFrom = s.Every(), s.IntervalFrom
			r.IntervalSecs = s.Interval.Seconds()
			r.Uploads, r.UploadsOff = s.Uploads()
			up, err := upload.LoadState(cfg.Dir)
			if err != nil {
				r.StateError = upload.Sanitize(err.Error(), upload.MaxAnswer)
			}
			r.LastUpload, r.LastAttempt = timeOrNil(up.LastSuccess), timeOrNil(up.LastAttempt)
			r.LastError, r.Failures = up.LastError, up.Failures
			r.Pending = pending(cfg.Dir, s.Endpoint, up)
			if r.Erasure, err = upload.ForgetStatus(cfg.Dir); err != nil {
				r.Erasure = []string{"unknown: " + upload.Sanitize(err.Error(), upload.MaxAnswer)}
			}
			if o.output.Structured() {
				return o.output.Print(o.Out, r)
			}

			w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
			if r.Service.Detail != "" {
				fmt.Fprintf(w, "service:\t%s (%s)\n", r.Service.State, r.Service.Detail)
			} else {
				fmt.Fprintf(w, "service:\t%s (%s)\n", r.Service.State, r.Service.Manager)
			}
			for _, n := range notes {
				fmt.Fprintln(w, n)
			}
			if r.Installed != "" && len(notes) == 0 {
				fmt.Fprintf(w, "installed:\t%s\n", r.Installed)
			}
			endpoint := r.Endpoint
			if s.Endpoint == "" {
				endpoint = "none"
			}
			fmt.Fprintf(w, "config folder:\t%s\n", r.ConfigFolder)
			fmt.Fprintf(w, "endpoint:\t%s (%s)\n", endpoint, r.EndpointFrom)
			// The reason may hold parentheses of its own: a line of its
			// own, as in pace telemetry status.
			fmt.Fprintf(w, "mode:\t%s\n", r.Mode)
			fmt.Fprintf(w, "mode set by:\t%s\n", r.ModeReason)
			fmt.Fprintf(w, "interval:\t%s (%s)\n", r.Interval, r.IntervalFrom)
			if !r.Uploads {
				fmt.Fprintf(w, "uploads:\toff: %s\n", r.UploadsOff)
			}
			if r.StateError != "" {
				fmt.Fprintf(w, "state:\tunreadable (%s)\n", r.StateError)
			}
			fmt.Fprintf(w, "last upload:\t%s\n", when(up.LastSuccess))
			if up.LastError != "" {
				fmt.Fprintf(w, "last error:\t%s (at %s, %d failures in a row)\n", up.LastError, when(up.LastAttempt), up.Failures)
			} else {
				fmt.Fprintf(w, "last error:\tnone\n")
			}
			fmt.Fprintf(w, "pending:\t%s\n", r.Pending)
			for _, e := range r.Erasure {
				fmt.Fprintf(w, "erasure:\t%s\n", e)
			}
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
	body, _ := upload.Body(p)
	switch {
	case upload.Digest(body) == st.DeliveredDigest:
		return "no: the counts are as last delivered"
	case upload.RefusedKey(endpoint, body) == st.RejectedDigest:
		return "held: the receiver refused these counts; waiting for them to change"
	}
	if n := p.Counters(); n != 1 {
		return fmt.Sprintf("yes: %d counters not yet delivered as they are now", n)
	}
	return "yes: 1 counter not yet delivered as it is now"
}
