// Package daemon is pace-telemetryd's engine: it watches the config folder,
// waits for changes to settle, and uploads the counts on the schedule the
// user's settings allow, retrying with backoff. It never polls while idle:
// with nothing pending, it waits on the file watcher alone.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/internal/build"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
	"github.com/pace-cli/pace/internal/machinepolicy"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
	"github.com/pace-cli/pace/internal/watch"
)

// Defaults of the settings.
const (
	DefaultInterval     = time.Hour // PACE's telemetry-upload-interval-seconds default
	DefaultDebounce     = 2 * time.Second
	DefaultFlushTimeout = 5 * time.Second
	DefaultBackoffBase  = 30 * time.Second
	DefaultBackoffMax   = time.Hour
	maxRetryAfter       = upload.MaxRetryAfter
)

// Interval is how often uploads may happen.
type Interval struct {
	Never bool          // never upload (PACE's -1)
	Min   time.Duration // least time between uploads; 0: every change
}

// IntervalSeconds reads PACE's upload interval setting: a negative number
// (PACE uses -1) never uploads, 0 uploads every change, n waits n seconds
// between uploads.
func IntervalSeconds(n int) Interval {
	if n < 0 {
		return Interval{Never: true}
	}
	return Interval{Min: time.Duration(n) * time.Second}
}

// Seconds is the interval as PACE's setting writes it: -1 never, 0 every
// change, else seconds.
func (i Interval) Seconds() int64 {
	if i.Never {
		return -1
	}
	return int64(i.Min / time.Second)
}

// String says how often uploads may happen, in words.
func (i Interval) String() string {
	switch {
	case i.Never:
		return "never upload"
	case i.Min == 0:
		return "upload every change"
	}
	return fmt.Sprintf("upload at most every %v", i.Min)
}

// Priority is a log line's severity, numbered as syslog and the journal
// number them.
type Priority int

const (
	Error   Priority = 3
	Warning Priority = 4
	Info    Priority = 6
)

// LockName keeps to one daemon per config folder.
const LockName = config.DaemonLockName

// ErrRunning means another daemon holds the config folder.
var ErrRunning = errors.New("another pace-telemetryd is already running for this config folder")

// Config holds a daemon's settings. Endpoint and Interval, when set, come
// from flags and win over the environment and config.yaml; the rest is read
// afresh on every attempt so a change of config.yaml needs no restart.
type Config struct {
	Dir      string
	Getenv   config.Getenv
	Endpoint string         // --endpoint
	Interval *Interval      // --telemetry-upload-interval-seconds; nil: from the environment, config.yaml or the default
	Debounce *time.Duration // quiet time after a change; nil: DefaultDebounce

	Version      string
	Client       *http.Client
	Logf         func(p Priority, format string, args ...any)
	Now          func() time.Time
	FlushTimeout time.Duration
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	Jitter       func() float64

	// Policy reads the machine's policy; nil: machinepolicy.Load. It is
	// read again at every decision, as config.yaml is, so a new policy
	// takes effect without a restart.
	Policy func() machinepolicy.Policy

	observe func(*payload.Payload) // tests: each read of the counts after a change
}

// Settings are the effective settings at one moment, and where they came
// from, as `status` shows them.
type Settings struct {
	Endpoint, EndpointFrom string
	Interval               Interval
	IntervalFrom           string
	Decision               telemetry.Decision
	Policy                 machinepolicy.Policy // the machine's policy, applied
}

// Every says how often uploads may happen, in words.
func (s Settings) Every() string { return s.Interval.String() }

// Uploads tells whether these settings let the daemon upload, and why not.
func (s Settings) Uploads() (bool, string) {
	switch {
	case s.Decision.Mode != telemetry.On:
		return false, fmt.Sprintf("telemetry is %s (%s)", s.Decision.Mode, s.Decision.Reason)
	case s.Interval.Never:
		return false, fmt.Sprintf("the upload interval is -1 (%s)", s.IntervalFrom)
	case s.Endpoint == "":
		return false, "no endpoint is set: use --endpoint, PACE_TELEMETRY_ENDPOINT or telemetry-endpoint in config.yaml"
	}
	return true, ""
}

// Resolve reads the settings now: flag, then environment, then
// config.yaml, then the built-in default; the machine's policy restricts
// the mode, and its endpoint wins over all of them.
func (c *Config) Resolve() Settings {
	file, err := config.Load(c.Dir)
	s := Settings{Policy: c.policy()}
	s.Decision = telemetry.Restrict(telemetry.Decide(c.Getenv, file, err), s.Policy)
	switch {
	case s.Policy.InEffect() && s.Policy.Endpoint != "":
		s.Endpoint, s.EndpointFrom = s.Policy.Endpoint, "the machine's policy "+s.Policy.Source
	case c.Endpoint != "":
		s.Endpoint, s.EndpointFrom = c.Endpoint, "--endpoint"
	case c.Getenv("PACE_TELEMETRY_ENDPOINT") != "":
		s.Endpoint, s.EndpointFrom = c.Getenv("PACE_TELEMETRY_ENDPOINT"), "PACE_TELEMETRY_ENDPOINT"
	case file.Endpoint != "":
		s.Endpoint, s.EndpointFrom = file.Endpoint, "telemetry-endpoint in config.yaml"
	default:
		s.Endpoint, s.EndpointFrom = build.DefaultEndpoint(), "built in"
	}
	s.Interval, s.IntervalFrom = Interval{Min: DefaultInterval}, "default"
	env := strings.TrimSpace(c.Getenv("PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"))
	n, envErr := config.ParseInt(env) // as viper reads it, like pace
	switch {
	case c.Interval != nil:
		s.Interval, s.IntervalFrom = *c.Interval, "--telemetry-upload-interval-seconds"
	case env != "" && envErr == nil:
		s.Interval, s.IntervalFrom = IntervalSeconds(n), "PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"
	case file.UploadIntervalSeconds != nil:
		s.Interval, s.IntervalFrom = IntervalSeconds(*file.UploadIntervalSeconds), "telemetry-upload-interval-seconds in config.yaml"
	}
	if env != "" && envErr != nil {
		s.IntervalFrom += fmt.Sprintf("; PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS=%q is not a number and is ignored", env)
	}
	return s
}

func (c *Config) policy() machinepolicy.Policy {
	if c.Policy != nil {
		return c.Policy()
	}
	return machinepolicy.Load()
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) logf(p Priority, format string, args ...any) {
	if c.Logf != nil {
		c.Logf(p, format, args...)
	}
}

func (c *Config) schedule(interval Interval) *Schedule {
	s := &Schedule{
		Debounce:    DefaultDebounce,
		Interval:    interval.Min,
		BackoffBase: c.BackoffBase,
		BackoffMax:  c.BackoffMax,
		MaxRetry:    maxRetryAfter,
		Jitter:      c.Jitter,
	}
	if c.Debounce != nil {
		s.Debounce = max(*c.Debounce, 0)
	}
	if s.BackoffBase <= 0 {
		s.BackoffBase = DefaultBackoffBase
	}
	if s.BackoffMax <= 0 {
		s.BackoffMax = DefaultBackoffMax
	}
	if s.Jitter == nil {
		s.Jitter = rand.Float64
	}
	return s
}

// Lock takes the daemon lock of dir, without waiting.
func Lock(dir string) (unlock func(), err error) {
	if err := mkdir(dir); err != nil {
		return nil, err
	}
	// A folder others can write to is refused, as pace refuses to count
	// there: they could plant links, pipes or settings in it.
	if err := config.CheckFolder(dir); err != nil {
		return nil, err
	}
	unlock, ok, err := lockedfile.TryLockFile(config.NewFolder(dir).DaemonLock())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w (%s)", ErrRunning, dir)
	}
	return unlock, nil
}

func mkdir(dir string) error {
	return config.MkdirAll(dir)
}

// Run is the daemon: it returns when ctx is done, after one last upload
// bounded by FlushTimeout, or at once with ErrRunning.
func Run(ctx context.Context, c Config) error {
	unlock, err := Lock(c.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return Serve(ctx, c)
}

// Serve is Run for a caller that holds the lock (see Lock) already: a
// service that must report a held folder as a failed start takes the lock
// before it says it started.
func Serve(ctx context.Context, c Config) error {
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	w, err := watch.Start(watchCtx, c.Dir, telemetry.FileName, config.FileName, config.ForgetName)
	if err != nil {
		return fmt.Errorf("watch %s: %w", c.Dir, err)
	}
	st, err := upload.LoadState(c.Dir)
	if err != nil {
		c.logf(Warning, "starting afresh: %v", err)
	}
	// The counts as last read after a change. When the file next shows
	// another cli_version (the CLI was upgraded and ran), those are sent
	// first, as they were: the runs made on the old version since the last
	// upload then count for it, not for the new one.
	held := c.read()
	var old *payload.Payload
	settings := c.Resolve()
	c.logf(Info, "watching %s; endpoint %s (%s); %s (%s); machine policy: %s", c.Dir, orNone(upload.Redact(settings.Endpoint)), settings.EndpointFrom, settings.Every(), settings.IntervalFrom, settings.Policy.Report(upload.Redact).Summary)
	sched := c.schedule(settings.Interval)
	sched.Changed(c.now().Add(-sched.Debounce)) // try at start, at once

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	lastWhyNot := ""
	var forgetHold time.Time
	for {
		settings = c.Resolve()
		sched.Interval = settings.Interval.Min
		ok, whyNot := settings.Uploads()
		if !ok && whyNot != lastWhyNot {
			c.logf(Warning, "not uploading: %s", whyNot)
		}
		lastWhyNot = whyNot
		timer.Stop()
		wake, armed := time.Time{}, false
		if at, pending := sched.Due(&st); pending && ok {
			wake, armed = at, true
		}
		if at, due := c.forgetDue(settings, forgetHold); due && (!armed || at.Before(wake)) {
			wake, armed = at, true
		}
		if armed {
			timer.Reset(max(wake.Sub(c.now()), 0))
		}
		select {
		case <-ctx.Done():
			stopWatch()
			// One last try, unless the receiver asked us to wait
			// (Retry-After). Not only when a change is pending: one
			// signalled at the moment of the stop may not have been
			// taken yet (select picks either), and the try sends nothing
			// when the counts are as last delivered.
			if ok && !sched.Asked(c.now()) {
				flushCtx, cancel := context.WithTimeout(context.Background(), c.flushTimeout())
				c.attemptWith(flushCtx, settings, sched, &st, &old)
				cancel()
			}
			return nil
		case <-w.C:
			sched.Changed(c.now())
			if p := c.read(); p != nil {
				if held != nil && old == nil && p.CLIVersion != held.CLIVersion && p.ID == held.ID {
					old = held
				}
				held = p
			}
		case err := <-w.Errors:
			c.logf(Error, "watch: %v", err)
		case <-timer.C:
			// Settings may have changed since the timer was armed.
			settings = c.Resolve()
			now := c.now()
			if at, due := c.forgetDue(settings, forgetHold); due && !at.After(now) {
				c.forget(ctx, settings, sched, false)
				forgetHold = now.Add(time.Second) // a request file that cannot be written does not spin the loop
			}
			at, pending := sched.Due(&st)
			if ok, _ := settings.Uploads(); ok && pending && !at.After(now) {
				c.attemptWith(ctx, settings, sched, &st, &old)
			}
		}
	}
}

// read returns the counts as the file holds them now, or nil if it cannot
// be read (the upload will say why).
func (c *Config) read() *payload.Payload {
	p, err := (&telemetry.Store{Dir: c.Dir}).Load()
	if err != nil {
		return nil
	}
	if c.observe != nil {
		c.observe(p)
	}
	return p
}

// attemptWith sends *old, the counts held before a version change, if
// any, then the file; *old is dropped once the receiver has answered it.
func (c *Config) attemptWith(ctx context.Context, s Settings, sched *Schedule, st *upload.State, old **payload.Payload) upload.Result {
	if *old != nil {
		res := upload.Counts(ctx, c.uploadConfig(s), st, *old)
		if res.Outcome == upload.Retry {
			sched.Done(c.now(), st, res)
			if err := st.Save(c.Dir); err != nil {
				c.logf(Error, "save state: %v", err)
			}
			c.logf(Warning, "upload of the counts of %s failed (%v); retrying at %s", (*old).CLIVersion, res.Err, st.RetryAt.Format(time.RFC3339))
			return res
		}
		if res.Outcome == upload.Delivered {
			c.logf(Info, "uploaded the counts of %s, before those of the new version", (*old).CLIVersion)
		}
		*old = nil
	}
	return c.attempt(ctx, s, sched, st)
}

func (c *Config) flushTimeout() time.Duration {
	if c.FlushTimeout > 0 {
		return c.FlushTimeout
	}
	return DefaultFlushTimeout
}

// attempt uploads once, takes the result into the schedule, and saves
// the state.
func (c *Config) attempt(ctx context.Context, s Settings, sched *Schedule, st *upload.State) upload.Result {
	res := upload.Once(ctx, c.uploadConfig(s), st)
	now := c.now()
	sched.Done(now, st, res)
	if err := st.Save(c.Dir); err != nil {
		c.logf(Error, "save state: %v", err)
	}
	if res.LogErr != nil {
		c.logf(Error, "sent log: %v", res.LogErr)
	}
	switch {
	case res.Outcome == upload.Retry:
		c.logf(Warning, "upload failed (%v); retrying at %s", res.Err, st.RetryAt.Format(time.RFC3339))
	case res.Err != nil:
		c.logf(Error, "upload: %s: %v", res.Outcome, res.Err)
	case res.Outcome == upload.Delivered && res.Parts > 1:
		c.logf(Info, "uploaded to %s in %d requests (more counters than the receiver takes in one)", upload.Redact(s.Endpoint), res.Parts)
	case res.Outcome == upload.Delivered:
		c.logf(Info, "uploaded to %s", upload.Redact(s.Endpoint))
	}
	return res
}

// forgetDue tells when an erasure request is to be sent next. Erasure is
// the user's explicit request: it is sent whatever the telemetry mode and
// the upload interval, to the endpoint the uploads go to.
func (c *Config) forgetDue(s Settings, hold time.Time) (time.Time, bool) {
	if s.Endpoint == "" {
		return time.Time{}, false
	}
	at, ok := upload.ForgetDue(c.Dir)
	return later(at, hold), ok
}

// forget sends the erasure requests that are due (all when force).
func (c *Config) forget(ctx context.Context, s Settings, sched *Schedule, force bool) upload.ForgetResult {
	res := upload.SendForgets(ctx, c.uploadConfig(s), force, sched.backoff)
	if res.LogErr != nil {
		c.logf(Error, "sent log: %v", res.LogErr)
	}
	for _, e := range res.Erased {
		c.logf(Info, "the receiver %s confirmed an erasure request: %s", upload.Redact(s.Endpoint), e)
	}
	switch {
	case res.Stopped > 0:
		c.logf(Error, "erasure request not sent again: %v", res.Err)
	case res.Retry > 0:
		c.logf(Warning, "erasure request failed (%v); retrying at %s", res.Err, res.RetryAt.Format(time.RFC3339))
	case res.Err != nil:
		c.logf(Error, "erasure request: %v", res.Err)
	}
	return res
}

// FlushForgets sends every erasure request now, whatever its backoff, for
// `pace-telemetryd flush`. It fails while a daemon runs for the same
// folder (that daemon sends them).
func FlushForgets(ctx context.Context, c Config) (upload.ForgetResult, error) {
	unlock, err := Lock(c.Dir)
	if err != nil {
		return upload.ForgetResult{}, err
	}
	defer unlock()
	s := c.Resolve()
	if s.Endpoint == "" {
		if rs, _ := upload.LoadForgets(c.Dir); len(rs) > 0 {
			return upload.ForgetResult{}, errors.New("erasure requests are waiting, but no endpoint is set: use --endpoint, PACE_TELEMETRY_ENDPOINT or telemetry-endpoint in config.yaml")
		}
		return upload.ForgetResult{}, nil
	}
	res := c.forget(ctx, s, c.schedule(s.Interval), true)
	if res.Retry > 0 || res.Stopped > 0 {
		return res, res.Err
	}
	return res, nil
}

func (c *Config) uploadConfig(s Settings) upload.Config {
	version := c.Version
	if version == "" {
		version = build.Version()
	}
	return upload.Config{Dir: c.Dir, Endpoint: s.Endpoint, Version: version, Client: c.Client, Now: c.Now}
}

// Flush uploads once now, whatever the interval, for cron, CI and tests.
// It fails while a daemon runs for the same folder (that daemon uploads).
// The Settings it used say why nothing was sent, when nothing was.
func Flush(ctx context.Context, c Config) (Settings, upload.Result, error) {
	unlock, err := Lock(c.Dir)
	if err != nil {
		return Settings{}, upload.Result{}, err
	}
	defer unlock()
	s := c.Resolve()
	if ok, whyNot := s.Uploads(); !ok {
		if s.Endpoint == "" && s.Decision.Mode == telemetry.On && !s.Interval.Never {
			return s, upload.Result{}, errors.New(whyNot)
		}
		return s, upload.Result{Outcome: upload.Nothing}, nil
	}
	st, err := upload.LoadState(c.Dir)
	if err != nil {
		c.logf(Warning, "starting afresh: %v", err)
	}
	st.RetryAt = time.Time{} // an explicit flush does not wait for a backoff
	res := c.attempt(ctx, s, c.schedule(s.Interval), &st)
	return s, res, res.Err
}

func orNone(s string) string {
	if s == "" || s == upload.Redact("") {
		return "(none)"
	}
	return s
}
