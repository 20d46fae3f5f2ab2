// Package daemoncmd is pace-telemetryd's command tree: run the daemon,
// upload once, and install it as an OS service.
package daemoncmd

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/pace-cli/pace/internal/upload"
)

// Exit codes of pace-telemetryd (documented in docs/daemon.md).
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

func (o *options) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show the service, the settings it runs with, the machine's policy, the last upload and what is pending",
		Example: command.Examples("pace-telemetryd status", "pace-telemetryd status -o json"),
		RunE: func(c *cobra.Command, _ []string) error {
			r, notes, err := o.status()
			if err != nil {
				return err
			}
			if o.output.Structured() {
				return o.output.Print(o.Out, r)
			}
			return printStatus(o.Out, r, notes)
		},
	}
}

// status gathers the status: the service from the service manager, the
// rest (daemon.Gather, which pace's own status uses too) with the
// settings of the installed service, and the flags given here on top.
// notes are what the text shows of a problem reading the installed
// command.
func (o *options) status() (r daemon.Status, notes []string, err error) {
	var service daemon.ServiceStatus
	var installed string
	m := newManager(o.system)
	st, serr := m.Status()
	if serr != nil {
		service = daemon.ServiceStatus{State: "unknown", Manager: m.Platform(), Detail: serr.Error()}
	} else {
		service = daemon.ServiceStatus{State: st.State.String(), Manager: m.Platform(), Detail: st.Detail}
	}
	eff := o
	if serr == nil && st.State != NotInstalled {
		if args, err := m.Installed(); err != nil {
			notes = append(notes, fmt.Sprintf("installed:\tcannot be read (%v)", err))
		} else if inst, err := o.installed(args); err != nil {
			installed = redactArgs(args)
			notes = append(notes, fmt.Sprintf("installed:\t%s (%v)", installed, err))
		} else {
			installed = redactArgs(args)
			eff = inst
		}
	}
	cfg, err := eff.daemonConfig(nil)
	if err != nil {
		return r, nil, err
	}
	r = daemon.Gather(cfg, service, installed)
	if exe, err := os.Executable(); err == nil {
		r.Program = exe
	}
	return r, notes, nil
}

// printStatus writes the status as text.
func printStatus(out io.Writer, r daemon.Status, notes []string) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
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
	if endpoint == "" {
		endpoint = "none"
	}
	fmt.Fprintf(w, "config folder:\t%s\n", r.ConfigFolder)
	r.Policy.Lines(w)
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
	fmt.Fprintf(w, "last upload:\t%s\n", when(r.LastUpload))
	if r.LastError != "" {
		fmt.Fprintf(w, "last error:\t%s (at %s, %d failures in a row)\n", r.LastError, when(r.LastAttempt), r.Failures)
	} else {
		fmt.Fprintf(w, "last error:\tnone\n")
	}
	fmt.Fprintf(w, "pending:\t%s\n", r.Pending)
	for _, e := range r.Erasure {
		fmt.Fprintf(w, "erasure:\t%s\n", e)
	}
	return w.Flush()
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

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprintf("%s (%v ago)", t.Local().Format(time.RFC3339), time.Since(*t).Round(time.Second))
}
