// Package function is pace's telemetry receiver, a Google Cloud Function:
// it validates the uploads of pace CLIs, which it cannot authenticate, and
// hands them, as one neutral sink.Upload, to the store TELEMETRY_SINK
// chooses: Graphite tagged series or Prometheus samples by remote write.
//
// POST / with the JSON body of payload.Payload answers 200 "OK" (the body
// PACE's original CLI expects) with the number of counters of unknown
// command paths, which were dropped, in the X-Pace-Dropped header. Bad input
// gets a 4xx and {"error":"<field>: <what is wrong>"}; a failing sink gets
// 503 with Retry-After, so the client keeps its data and retries. A
// store that refuses the data itself (such as out-of-order samples) gets
// 422, so the client does not send the same data
// again; its next upload carries the counts, which are cumulative. Too
// many uploads from one source address (TELEMETRY_SOURCE says where it is
// read) get 429 with Retry-After: the client keeps its data and waits.
//
// POST <path>/forget with {"id":"<uuid>"} is an installation's erasure
// request (forget.go): the store deletes what it keeps under the id, or
// answers 501 when its write protocol cannot delete.
package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/internal/promwrite"
	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/payload"
)

func init() {
	cfg, err := ConfigFromEnv(os.Getenv, os.Stdout, os.Stderr)
	if err == nil {
		var h http.Handler
		if h, err = New(cfg); err == nil {
			functions.HTTP("Telemetry", h.ServeHTTP)
			return
		}
	}
	// Failing at start makes a bad deploy fail instead of serving errors.
	fmt.Fprintf(os.Stderr, `{"severity":"CRITICAL","message":%q}`+"\n", "pace telemetry: "+err.Error())
	panic("pace telemetry: " + err.Error())
}

// MaxBodyBytes bounds an upload. 1000 series of long paths fit in it.
const MaxBodyBytes = 64 << 10

// RetryAfter is what a client is told to wait when the sink fails.
const RetryAfter = 60 * time.Second

// Defaults of Config.
const (
	DefaultInterval = time.Hour // the daemon's default upload interval
	DefaultTimeout  = 10 * time.Second
)

// DroppedHeader is the response header with the number of counters whose
// command path is not on the allow-list and was not stored.
const DroppedHeader = "X-Pace-Dropped"

// Sink is where the receiver delivers each accepted upload: one store,
// chosen by TELEMETRY_SINK. The interface, its neutral Upload and how its
// errors are classified (422, 503, 500) are documented in package
// internal/sink; each store's conversion lives in its own package under
// internal/ (graphite, promwrite).
type Sink = sink.Sink

// Config is what a receiver is built from.
type Config struct {
	Sink     Sink             // required
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default: JSON on standard error
	Timeout  time.Duration    // per request; default DefaultTimeout
	Commands []string         // allow-list; nil: the embedded commands.txt
	// Source says where a request's address is read (TELEMETRY_SOURCE);
	// default SourcePeer, what a handler without a platform in front sees.
	Source Source
	// SourceRate and SourceBurst set the per-address token bucket of this
	// instance (TELEMETRY_SOURCE_RATE, TELEMETRY_SOURCE_BURST); a zero
	// rate sets none.
	SourceRate  float64
	SourceBurst int
	// HealthSeries makes a stateless store (Graphite, Prometheus) get the
	// receiver's health counter series (health.go); ConfigFromEnv sets it.
	// PostgreSQL keeps its receiver_health table whatever this says.
	HealthSeries bool
}

// ConfigFromEnv reads the configuration the deployed function gets from
// its environment:
//
//	TELEMETRY_SINK      stdout (default), carbon+tcp://HOST:PORT, https://HOST/graphite/metrics
//	                    or prometheus+https://HOST/PATH (remote write)
//	GRAPHITE_USER       basic-auth user of the Graphite HTTP API
//	GRAPHITE_API_KEY    its key
//	PROMETHEUS_USER     basic-auth user of the remote-write endpoint
//	PROMETHEUS_PASSWORD its password or token
//	PROMETHEUS_BEARER_TOKEN  or a bearer token instead
//	                    or postgres://USER@HOST:PORT/DB (see internal/pgsink's ConfigFromEnv
//	                    for TELEMETRY_ID_KEY[_PREVIOUS], TELEMETRY_PG_PASSWORD[_FILE], TELEMETRY_PG_RETENTION_DAYS, TELEMETRY_PG_ACTIVITY_DAYS, TELEMETRY_PG_IDLE_DAYS)
//	TELEMETRY_INTERVAL  seconds between a client's uploads (default 3600), told to the Graphite HTTP API
//	TELEMETRY_TIMEOUT   seconds a request may take (default 10)
//	TELEMETRY_SOURCE    where the source address is read: xff-last (default; directly on a function URL),
//	                    xff-second-to-last (behind Google's external load balancer) or peer (nothing in front)
//	TELEMETRY_SOURCE_RATE   uploads per second one address may make on one instance (default 20; off for none)
//	TELEMETRY_SOURCE_BURST  uploads at once (default 200)
//
// TELEMETRY_ID_TAG=off is refused: see errIDTagOff.
func ConfigFromEnv(getenv func(string) string, stdout, stderr io.Writer) (Config, error) {
	cfg := Config{Logger: NewLogger(stderr), Timeout: DefaultTimeout, Source: DefaultSource, SourceRate: DefaultSourceRate, SourceBurst: DefaultSourceBurst, HealthSeries: true}
	if v := getenv("TELEMETRY_SOURCE"); v != "" {
		src, err := parseSource(v)
		if err != nil {
			return Config{}, err
		}
		cfg.Source = src
	}
	if v := getenv("TELEMETRY_SOURCE_RATE"); v == "off" {
		cfg.SourceRate = 0
	} else if v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return Config{}, fmt.Errorf("TELEMETRY_SOURCE_RATE %q: want a positive number of uploads per second, or off", v)
		}
		cfg.SourceRate = f
	}
	if v := getenv("TELEMETRY_SOURCE_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_SOURCE_BURST %q: want a positive number of uploads", v)
		}
		cfg.SourceBurst = n
	}
	interval := DefaultInterval
	if v := getenv("TELEMETRY_INTERVAL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_INTERVAL %q: want a positive number of seconds", v)
		}
		interval = time.Duration(n) * time.Second
	}
	if v := getenv("TELEMETRY_TIMEOUT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_TIMEOUT %q: want a positive number of seconds", v)
		}
		cfg.Timeout = time.Duration(n) * time.Second
	}
	// The id was always written unless this said off; "on" is accepted so
	// that deploys which spelled the default out keep starting.
	if v := getenv("TELEMETRY_ID_TAG"); v != "" && v != "on" {
		return Config{}, fmt.Errorf("TELEMETRY_ID_TAG=%q: %w", v, errIDTagOff)
	}
	var err error
	if cfg.Sink, err = openSink(getenv, stdout, interval, cfg.Logger); err != nil {
		return Config{}, err
	}
	logKeyRotation(cfg.Logger, cfg.Sink)
	return cfg, nil
}

// errIDTagOff is why TELEMETRY_ID_TAG=off was removed.
var errIDTagOff = errors.New("the setting was removed: series without the installation id mix the cumulative counts of many installs, " +
	"which no stateless receiver can turn into correct figures; unset it (every series carries the id), " +
	"or, to store counts without ids, use the PostgreSQL sink (TELEMETRY_SINK=postgres://…), which keeps each install's last counts and stores only increments")

// openSink opens the store TELEMETRY_SINK names. A new store is one case.
func openSink(getenv func(string) string, stdout io.Writer, interval time.Duration, log *slog.Logger) (Sink, error) {
	switch spec := getenv("TELEMETRY_SINK"); {
	case pgsink.IsSpec(spec):
		pc, err := pgsink.ConfigFromEnv(spec, getenv, os.ReadFile)
		if err != nil {
			return nil, err
		}
		pc.Commands = Commands() // for the "Unused commands" panel
		pc.Logger = log
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return opened(pgsink.Open(ctx, pc))
	case promwrite.IsSpec(spec):
		return opened(promwrite.Open(spec, promwrite.Auth{User: getenv("PROMETHEUS_USER"), Password: getenv("PROMETHEUS_PASSWORD"), BearerToken: getenv("PROMETHEUS_BEARER_TOKEN")}))
	default:
		return opened(graphite.Open(spec, stdout, getenv("GRAPHITE_USER"), getenv("GRAPHITE_API_KEY"), interval))
	}
}

// opened keeps a nil *T from becoming a non-nil Sink.
func opened[T Sink](s T, err error) (Sink, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NewLogger returns a JSON logger whose lines Cloud Logging understands:
// "severity" and "message" instead of slog's "level" and "msg".
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "message"
			case slog.LevelKey:
				a.Key = "severity"
				switch l := a.Value.Any().(slog.Level); {
				case l >= slog.LevelError:
					a.Value = slog.StringValue("ERROR")
				case l >= slog.LevelWarn:
					a.Value = slog.StringValue("WARNING")
				case l >= slog.LevelInfo:
					a.Value = slog.StringValue("INFO")
				default:
					a.Value = slog.StringValue("DEBUG")
				}
			}
			return a
		},
	}))
}

// New returns the receiver's handler, wrapped in its middleware.
func New(cfg Config) (http.Handler, error) {
	if cfg.Sink == nil {
		return nil, errors.New("function: no sink")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = NewLogger(os.Stderr)
	}
	paths := cfg.Commands
	if paths == nil {
		var err error
		if paths, err = embeddedCommands(); err != nil {
			return nil, err
		}
	}
	known := make(map[string][]string, len(paths))
	for _, p := range paths {
		if err := payload.ValidCommandPath(p); err != nil {
			return nil, fmt.Errorf("function: allow-list: %v", err)
		}
		known[p] = strings.Fields(p)[1:]
	}
	if cfg.Source == "" {
		cfg.Source = SourcePeer
	}
	r := &receiver{sink: cfg.Sink, now: cfg.Now, known: known, source: cfg.Source}
	r.health, _ = cfg.Sink.(sink.Health)
	if hw, ok := cfg.Sink.(sink.HealthWriter); ok && r.health == nil && cfg.HealthSeries {
		r.health = newMemHealth(hw)
	}
	if cfg.SourceRate > 0 {
		r.limit = newLimiter(cfg.SourceRate, max(cfg.SourceBurst, 1))
	}
	return logRequests(cfg.Logger, cfg.Now, recoverPanics(withTimeout(cfg.Timeout, r))), nil
}

type receiver struct {
	sink   Sink
	now    func() time.Time
	known  map[string][]string // allow-listed path -> its words after "pace"
	source Source
	limit  *limiter    // nil: no per-address bucket
	health sink.Health // nil: the sink keeps no health figures
}

// count reports an upload's outcome to the sink's health figures, if it
// keeps them, even when the request's own time is up.
func (h *receiver) count(r *http.Request, outcome, reason string) {
	if h.health == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	h.health.Count(ctx, h.now(), outcome, reason)
}

// refusal is the health figures' reason for a 4xx: a fixed word per
// status, never the message, which may quote the input.
func refusal(status int) string {
	switch status {
	case http.StatusMethodNotAllowed:
		return "method"
	case http.StatusUnsupportedMediaType:
		return "content_type"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusRequestTimeout:
		return "timeout"
	case http.StatusUnprocessableEntity:
		return "store_refused"
	}
	return "invalid"
}

// outcome is what the logging middleware reports about a request; the
// handler fills it in.
type outcome struct {
	err     string
	series  int
	dropped int
	version string
	os      string
	erasure bool // an erasure request (whose id is never logged)
}

type outcomeKey struct{}

func outcomeOf(r *http.Request) *outcome {
	if o, ok := r.Context().Value(outcomeKey{}).(*outcome); ok {
		return o
	}
	return &outcome{}
}

// isJSONPost checks what both routes take, a POST of JSON, failing the
// request through fail otherwise.
func isJSONPost(w http.ResponseWriter, r *http.Request, fail func(status int, msg string)) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "method: "+payload.Quote(r.Method)+" is not allowed; use POST")
		return false
	}
	if msg := checkContentType(r.Header.Get("Content-Type")); msg != "" {
		fail(http.StatusUnsupportedMediaType, msg)
		return false
	}
	return true
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := outcomeOf(r)
	fail := func(status int, msg string) {
		out.err = msg
		writeError(w, status, msg)
		if status < 500 {
			h.count(r, sink.Refused, refusal(status))
		}
	}
	limited := func(reason string, wait time.Duration) {
		out.err = "rate limited: " + reason
		w.Header().Set("Retry-After", retryAfter(wait))
		writeError(w, http.StatusTooManyRequests, "too many uploads from this address ("+reason+"); retry after "+retryAfter(wait)+" s")
		h.count(r, sink.RateLimited, reason)
	}
	src := h.source.address(r)
	if h.limit != nil {
		if ok, wait := h.limit.allow(src, h.now()); !ok {
			limited("source_rate", wait)
			return
		}
	}
	// Erasure requests share the per-address bucket: each costs the store
	// a transaction, so one address must not be able to send them unbounded.
	if isForget(r) {
		h.forget(w, r)
		return
	}
	if !isJSONPost(w, r, fail) {
		return
	}
	if r.ContentLength > MaxBodyBytes {
		fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", MaxBodyBytes))
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 2*MaxBodyBytes {
			bufPool.Put(buf)
		}
	}()
	// One byte over the limit tells a long body from one of exactly the limit.
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, MaxBodyBytes+1)); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			fail(http.StatusRequestTimeout, "body: not received in time")
		} else {
			fail(http.StatusBadRequest, "body: could not be read")
		}
		return
	}
	if buf.Len() > MaxBodyBytes {
		fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", MaxBodyBytes))
		return
	}
	p, err := payload.Decode(buf.Bytes())
	if err == nil {
		err = p.Normalize()
	}
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	out.version, out.os = p.CLIVersion, p.OperatingSystem
	u, dropped := toUpload(p, h.known, h.now(), src)
	out.series, out.dropped = len(u.Counters), dropped
	if len(u.Counters) > 0 {
		err = h.sink.Write(r.Context(), u)
	}
	if err != nil {
		if errors.Is(err, sink.ErrInvalid) {
			panic(err) // a bug: validation let something through
		}
		var le *sink.LimitedError
		if errors.As(err, &le) {
			limited(le.Reason, le.RetryAfter)
			return
		}
		if sink.IsRefused(err) {
			// Sending the same data again would be refused again. The
			// counts are cumulative, so the next upload, made when they
			// change, carries these runs too.
			fail(http.StatusUnprocessableEntity, "sink: the store refused the samples; send them again when they change")
		} else {
			w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
			fail(http.StatusServiceUnavailable, "sink: unavailable; retry later")
		}
		// A store may quote the refused series, id label included: the id
		// is personal data and stays out of the log.
		out.err = "sink: " + scrubID(err.Error(), p.ID)
		return
	}
	h.count(r, sink.Accepted, "")
	w.Header().Set(DroppedHeader, strconv.Itoa(dropped))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "OK")
}

// checkContentType accepts application/json, with at most a UTF-8 charset.
func checkContentType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return "content-type: must be application/json"
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return "content-type: only a utf-8 charset is allowed"
		}
	}
	return ""
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// scrubID removes the installation id from a message, also where the sink
// cut the store's reply short in the middle of it.
func scrubID(msg, id string) string {
	msg = strings.ReplaceAll(msg, id, "[id]")
	for k := len(id) - 1; k >= 8; k-- {
		msg = strings.ReplaceAll(msg, id[:k], "[id]")
	}
	return msg
}
