// Package upload sends the counts in telemetry.yaml to the receiver, once
// per call. It keeps no loop of its own: the daemon decides when to call it.
//
// Uploads are best effort and safe to repeat: counts are cumulative, so a
// body sent twice says nothing new, and nothing here ever changes or resets
// the user's counts.
package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/internal/telemetry"
)

// Config holds what one upload needs. Zero optional fields take the
// production defaults; tests override them.
type Config struct {
	Dir      string // the pace config folder
	Endpoint string // the receiver's URL
	Version  string // the daemon's version, for User-Agent

	Client *http.Client     // default: DefaultTimeout, the environment's proxy settings
	Now    func() time.Time // default time.Now
}

// DefaultTimeout bounds one upload, connection to answer.
const DefaultTimeout = 30 * time.Second

// Outcome says what became of an upload attempt.
type Outcome int

const (
	// Nothing: no file yet, or the same body was already delivered.
	Nothing Outcome = iota
	// Delivered: the receiver answered 2xx.
	Delivered
	// Retry: the receiver could not take it now (network error, 5xx, 429);
	// try again later.
	Retry
	// Rejected: the receiver refused this body (a 4xx other than 429); do
	// not send it again until the counts change.
	Rejected
)

func (o Outcome) String() string {
	return [...]string{"nothing to send", "delivered", "will retry", "rejected"}[o]
}

// Result is one attempt's outcome.
type Result struct {
	Outcome    Outcome
	Status     int           // HTTP status, 0 if no answer
	RetryAfter time.Duration // from a Retry-After header, if any
	Err        error         // why it was not delivered
	LogErr     error         // the sent log could not be written
	Parts      int           // requests the counts needed (more than one past payload.MaxSeries counters)

	body []byte // the answer's first MaxAnswer+1 bytes
}

// Once uploads the counts if they differ from what was last delivered,
// and records the attempt in state and in the sent log. The caller saves
// state.
func Once(ctx context.Context, cfg Config, state *State) Result {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	if cfg.Endpoint == "" {
		return Result{Outcome: Nothing, Err: errors.New("no endpoint is set")}
	}
	p, err := (&telemetry.Store{Dir: cfg.Dir}).Load()
	if errors.Is(err, fs.ErrNotExist) {
		return Result{Outcome: Nothing}
	}
	if errors.Is(err, telemetry.ErrUnreadable) {
		// The next pace run moves a bad file aside and starts afresh.
		return Result{Outcome: Nothing, Err: err}
	}
	if err != nil {
		// The file could not be read now (on Windows it may be in the
		// middle of being replaced): try again, with backoff, rather than
		// wait for the next change, which may never come.
		state.LastAttempt = now()
		state.LastError = Sanitize(err.Error(), MaxAnswer)
		state.Failures++
		return Result{Outcome: Retry, Err: fmt.Errorf("read the counts: %w", err)}
	}
	return Counts(ctx, cfg, state, p)
}

// Counts is Once for counts read before: the daemon sends with it the
// counts it held when the file's cli_version changed, so that the runs of
// the old version count for it.
func Counts(ctx context.Context, cfg Config, state *State, p *payload.Payload) Result {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	if cfg.Endpoint == "" {
		return Result{Outcome: Nothing, Err: errors.New("no endpoint is set")}
	}
	if forgetting(cfg.Dir, p.ID) {
		// `pace telemetry forget` asked to erase this id and has not yet
		// given the file its new one: counts sent now would come back
		// after the erasure.
		return Result{Outcome: Nothing}
	}
	body, err := Body(p)
	if err != nil {
		return Result{Outcome: Nothing, Err: err}
	}
	digest := Digest(body)
	if digest == state.DeliveredDigest {
		return Result{Outcome: Nothing}
	}
	if RefusedKey(cfg.Endpoint, body) == state.RejectedDigest {
		return Result{Outcome: Nothing, Err: fmt.Errorf("the receiver refused these counts before: %s", state.LastError)}
	}

	state.LastAttempt = now()
	res := deliver(ctx, cfg, state.LastAttempt, p)
	if res.Outcome == Rejected && len(p.CrashSites) > 0 && refusesCrashSites(res) {
		// A receiver from before crash sites refuses the field, and the
		// whole upload with it: the runs then go without the sites.
		q := *p
		q.CrashSites = nil
		res = deliver(ctx, cfg, state.LastAttempt, &q)
	}
	switch res.Outcome {
	case Delivered:
		state.LastSuccess = state.LastAttempt
		state.DeliveredDigest = digest
		state.RejectedDigest = ""
		state.LastError = ""
		state.Failures = 0
		state.RetryAt = time.Time{}
	case Rejected:
		state.RejectedDigest = RefusedKey(cfg.Endpoint, body)
		state.LastError = res.Err.Error()
		state.Failures = 0
		state.RetryAt = time.Time{}
	case Retry:
		state.LastError = res.Err.Error()
		state.Failures++
	}
	return res
}

// Body is the upload body of p, as Counts sends it (in one request, when
// it holds at most payload.MaxSeries counters).
func Body(p *payload.Payload) ([]byte, error) { return p.Marshal() }

// deliver posts p, in parts of at most payload.MaxSeries counters, and logs
// each part in the sent log; it stops at the first part not delivered.
func deliver(ctx context.Context, cfg Config, at time.Time, p *payload.Payload) Result {
	body, err := p.Marshal()
	if err != nil {
		return Result{Outcome: Nothing, Err: err}
	}
	parts := [][]byte{body}
	if p.Counters() > payload.MaxSeries {
		// The receiver takes at most MaxSeries counters a request. Counts
		// are cumulative per counter, so parts are independent: a part
		// delivered twice, or alone, says nothing wrong.
		if parts, err = split(p, payload.MaxSeries); err != nil {
			return Result{Outcome: Nothing, Err: err}
		}
	}
	var res Result
	for i, part := range parts {
		res = post(ctx, cfg, part)
		res.Parts = len(parts)
		if err := logSent(cfg.Dir, at, Redact(cfg.Endpoint), part, res); err != nil {
			res.LogErr = err
		}
		if res.Outcome != Delivered {
			if len(parts) > 1 {
				res.Err = fmt.Errorf("part %d of %d (the receiver takes %d counters a request): %w", i+1, len(parts), payload.MaxSeries, res.Err)
			}
			break
		}
	}
	return res
}

// refusesCrashSites tells a receiver's refusal of the crash_sites field
// itself ("\"crash_sites\": unknown field"), from a 400.
func refusesCrashSites(res Result) bool {
	return res.Status == http.StatusBadRequest && bytes.Contains(res.body, []byte("crash_sites")) && bytes.Contains(res.body, []byte("unknown field"))
}

// split cuts p into payloads of at most n counters each, same id, version
// and OS, in the order of the paths.
func split(p *payload.Payload, n int) ([][]byte, error) {
	paths := make([]string, 0, len(p.MetricPoints))
	for path := range p.MetricPoints {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	var parts [][]byte
	part, count := &payload.Payload{CLIVersion: p.CLIVersion, OperatingSystem: p.OperatingSystem, ID: p.ID}, 0
	flush := func() error {
		if count == 0 {
			return nil
		}
		if len(parts) == 0 {
			// The crash sites ride with the first part (at most
			// payload.MaxCrashSites, well within a request).
			part.CrashSites = p.CrashSites
		}
		b, err := part.Marshal()
		parts = append(parts, b)
		part, count = &payload.Payload{CLIVersion: p.CLIVersion, OperatingSystem: p.OperatingSystem, ID: p.ID}, 0
		return err
	}
	for _, path := range paths {
		codes := make([]int, 0, len(p.MetricPoints[path]))
		for code := range p.MetricPoints[path] {
			codes = append(codes, code)
		}
		sort.Ints(codes)
		for _, code := range codes {
			if count == n {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			if part.MetricPoints == nil {
				part.MetricPoints = map[string]map[int]payload.Point{}
			}
			if part.MetricPoints[path] == nil {
				part.MetricPoints[path] = map[int]payload.Point{}
			}
			part.MetricPoints[path][code] = p.MetricPoints[path][code]
			count++
		}
	}
	return parts, flush()
}

// Digest names a body: the hex SHA-256.
func Digest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// RefusedKey names a body refused by one endpoint: after the endpoint is
// fixed, the same counts are tried again.
func RefusedKey(endpoint string, body []byte) string {
	return Digest(append([]byte(endpoint+"\n"), body...))
}

// Redact shows an endpoint without what may be a secret: the user info
// (a password, or a user name alone, which is often a token), the query
// string and the fragment. Logs, errors and the sent log use it.
func Redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(an endpoint that is not a URL)"
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "…", false
	}
	fragment := ""
	if u.Fragment != "" || u.RawFragment != "" || strings.HasSuffix(endpoint, "#") {
		u.Fragment, u.RawFragment, fragment = "", "", "#…"
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx")
		}
	}
	return u.String() + fragment
}

func post(ctx context.Context, cfg Config, body []byte) Result {
	return postTo(ctx, cfg, cfg.Endpoint, body)
}

// postTo posts body to target, a URL at the receiver.
func postTo(ctx context.Context, cfg Config, target string, body []byte) Result {
	client := DefaultClient()
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	// A redirect is never followed: it would send the counts to a host the
	// user did not choose (perhaps over plain http), and a 302 or 303 would
	// turn the POST into a GET whose 200 proves nothing.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Result{Outcome: Rejected, Err: fmt.Errorf("endpoint %s is not a usable URL", Redact(target))}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent(cfg.Version))
	resp, err := client.Do(req)
	if err != nil {
		return Result{Outcome: Retry, Err: fmt.Errorf("upload to %s: %s", Redact(target), Sanitize(unwrapURLError(err).Error(), MaxAnswer))}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	res := Result{Status: resp.StatusCode, body: answer}
	status := Sanitize(resp.Status, 80)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.Outcome = Delivered
		return res
	case code >= 300 && code < 400:
		// Held like a refusal: the same counts go again only once the
		// endpoint is changed (or the counts change).
		res.Outcome = Rejected
		where := "no Location"
		if loc := resp.Header.Get("Location"); loc != "" {
			where = "to " + redirectTarget(req.URL, loc)
		}
		res.Err = fmt.Errorf("receiver answered %s, a redirect %s; redirects are not followed: set the endpoint to the receiver's own URL", status, where)
		return res
	case code == http.StatusTooManyRequests || code >= 500:
		res.Outcome = Retry
		res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		res.Outcome = Rejected
	}
	res.Err = fmt.Errorf("receiver answered %s: %s", status, Sanitize(string(answer), MaxAnswer))
	return res
}

// DefaultClient has a timeout and, through http.DefaultTransport's
// ProxyFromEnvironment, honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
func DefaultClient() *http.Client {
	return &http.Client{Timeout: DefaultTimeout}
}

// UserAgent names the daemon and its version.
func UserAgent(version string) string {
	return fmt.Sprintf("pace-telemetryd/%s (%s)", version, runtime.GOOS)
}

// MaxRetryAfter caps a receiver's Retry-After: a longer (or absurd) value
// waits this long, then the daemon tries again.
const MaxRetryAfter = 24 * time.Hour

// parseRetryAfter reads seconds or an HTTP date, capped to MaxRetryAfter;
// 0 if absent or unusable. Seconds are compared before they become a
// Duration, which would overflow past 292 years.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// unwrapURLError drops the "Post \"url\":" prefix: we name the endpoint
// ourselves, redacted.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
