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

	"github.com/pace-cli/pace/internal/build"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
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
	maxRetryAfter       = 24 * time.Hour
)

// NoInterval as Config.Interval uploads every change (after the debounce).
const NoInterval time.Duration = 1

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
	Endpoint string        // --endpoint
	Interval time.Duration // --telemetry-upload-interval-seconds; 0: from the environment or config.yaml; -1: never
	Debounce time.Duration // quiet time after a change; negative means none

	Version      string
	Client       *http.Client
	Logf         func(format string, args ...any)
	Now          func() time.Time
	FlushTimeout time.Duration
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	Jitter       func() float64
}

// Settings are the effective settings at one moment, and where they came
// from, as `status` shows them.
type Settings struct {
	Endpoint, EndpointFrom string
	Interval               time.Duration // negative: never upload
	IntervalFrom           string
	Decision               telemetry.Decision
}

// Every says how often uploads may happen, in words.
func (s Settings) Every() string {
	switch {
	case s.Interval < 0:
		return "never upload"
	case s.Interval <= NoInterval:
		return "upload every change"
	}
	return fmt.Sprintf("upload at most every %v", s.Interval)
}

// Uploads tells whether these settings let the daemon upload, and why not.
func (s Settings) Uploads() (bool, string) {
	switch {
	case s.Decision.Mode != telemetry.On:
		return false, fmt.Sprintf("telemetry is %s (%s)", s.Decision.Mode, s.Decision.Reason)
	case s.Interval < 0:
		return false, fmt.Sprintf("the upload interval is -1 (%s)", s.IntervalFrom)
	case s.Endpoint == "":
		return false, "no endpoint is set: use --endpoint, PACE_TELEMETRY_ENDPOINT or telemetry-endpoint in config.yaml"
	}
	return true, ""
}

// Resolve reads the settings now: flag, then environment, then
// config.yaml, then the built-in default.
func (c *Config) Resolve() Settings {
	file, err := config.Load(c.Dir)
	s := Settings{Decision: telemetry.Decide(c.Getenv, file, err)}
	switch {
	case c.Endpoint != "":
		s.Endpoint, s.EndpointFrom = c.Endpoint, "--endpoint"
	case c.Getenv("PACE_TELEMETRY_ENDPOINT") != "":
		s.Endpoint, s.EndpointFrom = c.Getenv("PACE_TELEMETRY_ENDPOINT"), "PACE_TELEMETRY_ENDPOINT"
	case file.Endpoint != "":
		s.Endpoint, s.EndpointFrom = file.Endpoint, "telemetry-endpoint in config.yaml"
	default:
		s.Endpoint, s.EndpointFrom = build.DefaultEndpoint(), "built in"
	}
	s.Interval, s.IntervalFrom = DefaultInterval, "default"
	env := strings.TrimSpace(c.Getenv("PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"))
	n, envErr := config.ParseInt(env) // as viper reads it, like pace
	switch {
	case c.Interval != 0:
		s.Interval, s.IntervalFrom = c.Interval, "--telemetry-upload-interval-seconds"
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

// IntervalSeconds reads PACE's upload interval setting: a negative number
// (PACE uses -1) never uploads, 0 uploads every change, n waits n seconds
// between uploads.
func IntervalSeconds(n int) time.Duration {
	switch {
	case n < 0:
		return -1
	case n == 0:
		return NoInterval
	}
	return time.Duration(n) * time.Second
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

func (c *Config) schedule(interval time.Duration) *Schedule {
	s := &Schedule{
		Debounce:    c.Debounce,
		Interval:    interval,
		BackoffBase: c.BackoffBase,
		BackoffMax:  c.BackoffMax,
		MaxRetry:    maxRetryAfter,
		Jitter:      c.Jitter,
	}
	if s.Debounce == 0 {
		s.Debounce = DefaultDebounce
	} else if s.Debounce < 0 {
		s.Debounce = 0
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
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	w, err := watch.Start(watchCtx, c.Dir, telemetry.FileName, config.FileName)
	if err != nil {
		return fmt.Errorf("watch %s: %w", c.Dir, err)
	}
	st, err := telemetry.LoadUploadState(c.Dir)
	if err != nil {
		c.logf("starting afresh: %v", err)
	}
	settings := c.Resolve()
	c.logf("watching %s; endpoint %s (%s); %s (%s)", c.Dir, orNone(upload.Redact(settings.Endpoint)), settings.EndpointFrom, settings.Every(), settings.IntervalFrom)
	sched := c.schedule(settings.Interval)
	sched.Changed(c.now().Add(-sched.Debounce)) // try at start, at once

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	lastWhyNot := ""
	for {
		settings = c.Resolve()
		sched.Interval = max(settings.Interval, 0)
		ok, whyNot := settings.Uploads()
		if !ok && whyNot != lastWhyNot {
			c.logf("not uploading: %s", whyNot)
		}
		lastWhyNot = whyNot
		timer.Stop()
		if at, pending := sched.Due(&st); pending && ok {
			timer.Reset(max(at.Sub(c.now()), 0))
		}
		select {
		case <-ctx.Done():
			stopWatch()
			// One last try of what is pending, unless the receiver asked
			// us to wait (Retry-After).
			if ok && sched.Pending() && !sched.Asked(c.now()) {
				flushCtx, cancel := context.WithTimeout(context.Background(), c.flushTimeout())
				c.attempt(flushCtx, settings, sched, &st)
				cancel()
			}
			return nil
		case <-w.C:
			sched.Changed(c.now())
		case err := <-w.Errors:
			c.logf("watch: %v", err)
		case <-timer.C:
			// Settings may have changed since the timer was armed.
			if settings = c.Resolve(); func() bool { ok, _ := settings.Uploads(); return ok }() {
				c.attempt(ctx, settings, sched, &st)
			}
		}
	}
}

func (c *Config) flushTimeout() time.Duration {
	if c.FlushTimeout > 0 {
		return c.FlushTimeout
	}
	return DefaultFlushTimeout
}

// attempt uploads once, takes the result into the schedule, and saves
// the state.
func (c *Config) attempt(ctx context.Context, s Settings, sched *Schedule, st *telemetry.UploadState) upload.Result {
	res := upload.Once(ctx, c.uploadConfig(s), st)
	now := c.now()
	sched.Done(now, st, res)
	if err := st.Save(c.Dir); err != nil {
		c.logf("save state: %v", err)
	}
	if res.LogErr != nil {
		c.logf("sent log: %v", res.LogErr)
	}
	switch {
	case res.Outcome == upload.Retry:
		c.logf("upload failed (%v); retrying at %s", res.Err, st.RetryAt.Format(time.RFC3339))
	case res.Err != nil:
		c.logf("upload: %s: %v", res.Outcome, res.Err)
	case res.Outcome == upload.Delivered:
		c.logf("uploaded to %s", upload.Redact(s.Endpoint))
	}
	return res
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
		if s.Endpoint == "" && s.Decision.Mode == telemetry.On && s.Interval >= 0 {
			return s, upload.Result{}, errors.New(whyNot)
		}
		return s, upload.Result{Outcome: upload.Nothing}, nil
	}
	st, err := telemetry.LoadUploadState(c.Dir)
	if err != nil {
		c.logf("starting afresh: %v", err)
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
