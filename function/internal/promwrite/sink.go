package promwrite

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pace-cli/pace/function/internal/outbound"
	"github.com/pace-cli/pace/function/internal/sink"

	"github.com/golang/snappy"
)

// DefaultTimeout bounds one delivery when the context has no deadline.
const DefaultTimeout = 10 * time.Second

// UserAgent is sent with every write.
const UserAgent = "pace-telemetry-receiver"

// Scheme prefix of a TELEMETRY_SINK that names a remote-write endpoint.
const schemePrefix = "prometheus+"

// IsSpec reports whether spec names a remote-write sink
// (prometheus+https://… or prometheus+http://…).
func IsSpec(spec string) bool { return strings.HasPrefix(spec, schemePrefix) }

// Auth is how the sink authenticates: basic auth (User and Password) or a
// bearer token, or nothing. Its secrets are never logged or returned in an
// error.
type Auth struct {
	User, Password string
	BearerToken    string
}

// Sink writes series to a remote-write endpoint.
type Sink struct {
	URL    string
	Auth   Auth
	Client *http.Client
	// Health, when set (sink.NewHealthSeries(s)), writes the receiver's
	// outcome counts as series; nil keeps none.
	Health *sink.HealthSeries
}

// New returns a Sink with a client that does not follow redirects, so the
// credentials go only to the configured URL.
func New(rawURL string, auth Auth) *Sink {
	return &Sink{
		URL:    rawURL,
		Auth:   auth,
		Client: outbound.Client(),
	}
}

// Open returns the sink that spec names: prometheus+https://HOST/PATH
// (prometheus+http:// for local stores) posts to https://HOST/PATH.
func Open(spec string, auth Auth) (*Sink, error) {
	if !IsSpec(spec) {
		return nil, fmt.Errorf("TELEMETRY_SINK: want prometheus+https://HOST/PATH")
	}
	u, err := url.Parse(strings.TrimPrefix(spec, schemePrefix))
	if err != nil {
		// url's error quotes the whole spec, which may hold a secret.
		return nil, fmt.Errorf("TELEMETRY_SINK is not a URL")
	}
	if u.User != nil {
		return nil, fmt.Errorf("TELEMETRY_SINK must not hold credentials; use PROMETHEUS_USER and PROMETHEUS_PASSWORD, or PROMETHEUS_BEARER_TOKEN")
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("TELEMETRY_SINK %q: want prometheus+https://HOST/PATH", spec)
	}
	switch {
	case auth.BearerToken != "" && (auth.User != "" || auth.Password != ""):
		return nil, fmt.Errorf("TELEMETRY_SINK %q: set PROMETHEUS_BEARER_TOKEN or PROMETHEUS_USER and PROMETHEUS_PASSWORD, not both", spec)
	case (auth.User == "") != (auth.Password == ""):
		return nil, fmt.Errorf("TELEMETRY_SINK %q: PROMETHEUS_USER and PROMETHEUS_PASSWORD go together", spec)
	}
	return New(u.String(), auth), nil
}

// RejectedError is a store's refusal of the samples themselves (a 4xx
// other than 429 and other than the ones that mean the sink is
// misconfigured): out-of-order or duplicate samples, samples too old, a
// limit on series or labels. Sending the same request again would fail
// again.
type RejectedError struct {
	Status string // as the store sent it, e.g. "400 Bad Request"
	Reason string // the start of the store's reply, secrets removed
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("remote write: rejected: %s: %.300q", e.Status, e.Reason)
}

// Write implements sink.Sink: it converts u and returns nil only when the
// store answered 2xx. A refusal (sink.IsRefused, wrapping a *RejectedError)
// means the store refused these samples for good; any other error means
// they may be taken later (the store is down, overloaded (429, 5xx) or the
// sink is misconfigured (3xx, 401, 403, 404, 405, 407)).
func (s *Sink) Write(ctx context.Context, u *sink.Upload) error {
	err := s.send(ctx, Convert(u))
	var rej *RejectedError
	if errors.As(err, &rej) {
		return sink.Refuse(err)
	}
	if err == nil {
		s.Health.Count(ctx, u.Received, sink.Accepted, "")
	}
	return err
}

// send delivers series as one write request.
func (s *Sink) send(ctx context.Context, series []Series) error {
	if len(series) == 0 {
		return nil
	}
	pb, err := Marshal(series)
	if err != nil {
		return err
	}
	body := snappy.Encode(nil, pb)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", UserAgent)
	switch {
	case s.Auth.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.Auth.BearerToken)
	case s.Auth.User != "" || s.Auth.Password != "":
		req.SetBasicAuth(s.Auth.User, s.Auth.Password)
	}
	resp, err := outbound.Do(s.Client, req)
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	reason := strings.TrimSpace(string(s.redact(reply)))
	switch c := resp.StatusCode; {
	case c/100 == 2:
		return nil
	case c/100 == 4 && !retryable4xx[c]:
		return &RejectedError{Status: resp.Status, Reason: reason}
	default:
		return fmt.Errorf("remote write: %s: %.300q", resp.Status, reason)
	}
}

// retryable4xx are the 4xx answers that say nothing about the samples: the
// store is busy (429) or the sink's URL or credentials are wrong, which the
// operator fixes while clients keep their data and retry.
var retryable4xx = map[int]bool{
	http.StatusUnauthorized:                true,
	http.StatusForbidden:                   true,
	http.StatusNotFound:                    true,
	http.StatusMethodNotAllowed:            true,
	http.StatusProxyAuthRequired:           true,
	http.StatusRequestTimeout:              true,
	http.StatusTooManyRequests:             true,
	http.StatusUnsupportedMediaType:        true,
	http.StatusRequestHeaderFieldsTooLarge: true,
}

// redact removes the secrets, plain or inside an Authorization header, from
// a reply that is about to go into an error message and so into the logs: a
// proxy or a verbose API may echo what it was sent.
func (s *Sink) redact(reply []byte) []byte {
	return outbound.Redact(reply, s.Auth.User, s.Auth.Password, s.Auth.BearerToken)
}

// HealthMetric is the series of the receiver's own health figures.
const HealthMetric = "pace_receiver_uploads_total"

// WriteHealth implements sink.HealthWriter, for Health: one series per outcome and
// reason of this receiver instance, its cumulative count of uploads.
func (s *Sink) WriteHealth(ctx context.Context, at time.Time, receiver string, counts []sink.HealthCount) error {
	series := make([]Series, 0, len(counts))
	for _, c := range counts {
		series = append(series, Series{Labels: []Label{{NameLabel, HealthMetric}, {"outcome", c.Outcome}, {"reason", cmp.Or(c.Reason, "none")}, {"receiver", receiver}},
			Value: float64(c.Uploads), Timestamp: at.UnixMilli()})
	}
	return s.send(ctx, series)
}
