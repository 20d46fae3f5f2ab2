package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/payload"
)

// MaxBodyBytes bounds an upload. 1000 series of long paths fit in it.
const MaxBodyBytes = 64 << 10

// RetryAfter is what a client is told to wait when the sink fails.
const RetryAfter = 60 * time.Second

// Defaults of Config.
const (
	DefaultInterval = time.Hour // the daemon's default upload interval
	DefaultTimeout  = 10 * time.Second
)

// DroppedHeader is the response header with the number of counters and
// crash sites not stored: their command path, or a crash site's function,
// is not on the allow-list.
const DroppedHeader = "X-Pace-Dropped"

// HandlerConfig is what the upload and erasure routes are built from: a
// store already open, and the settings of the handler. Receiver builds
// one from a Config; tests build their own around a store of theirs.
type HandlerConfig struct {
	Store    sink.Store       // required
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
}

// NewHandler returns the upload and erasure routes on cfg.Store, wrapped
// in their middleware.
func NewHandler(cfg HandlerConfig) (http.Handler, error) {
	r, err := newRoutes(cfg)
	if err != nil {
		return nil, err
	}
	return r.wrap(r), nil
}

// newRoutes returns the routes, without their middleware.
func newRoutes(cfg HandlerConfig) (*routes, error) {
	if cfg.Store == nil {
		return nil, errors.New("receiver: no store")
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
	known, err := allowList(cfg.Commands)
	if err != nil {
		return nil, err
	}
	if cfg.Source == "" {
		cfg.Source = SourcePeer
	}
	functions, err := crashFunctions()
	if err != nil {
		return nil, err
	}
	r := &routes{sink: cfg.Store, now: cfg.Now, known: known, functions: functions, source: cfg.Source, log: cfg.Logger, timeout: cfg.Timeout}
	if cfg.SourceRate > 0 {
		r.limit = newLimiter(cfg.SourceRate, max(cfg.SourceBurst, 1))
	}
	return r, nil
}

// allowList maps each allow-listed command path (nil: the embedded
// commands.txt) to its words after "pace".
func allowList(paths []string) (map[string][]string, error) {
	if paths == nil {
		var err error
		if paths, err = embeddedCommands(); err != nil {
			return nil, err
		}
	}
	known := make(map[string][]string, len(paths))
	for _, p := range paths {
		if err := payload.ValidCommandPath(p); err != nil {
			return nil, fmt.Errorf("receiver: allow-list: %v", err)
		}
		known[p] = strings.Fields(p)[1:]
	}
	return known, nil
}

// routes serves uploads at every path and erasure requests at
// <path>/forget, on one open store.
type routes struct {
	sink      sink.Store
	now       func() time.Time
	known     map[string][]string // allow-listed path -> its words after "pace"
	functions map[string]bool     // the functions a crash site may name
	source    Source
	limit     *limiter // nil: no per-address bucket
	log       *slog.Logger
	timeout   time.Duration
}

// wrap puts next in the routes' middleware: one log line per request,
// panics as 500s, and the request's time bound.
func (h *routes) wrap(next http.Handler) http.Handler {
	return logRequests(h.log, h.now, recoverPanics(withTimeout(h.timeout, next)))
}

// count reports an upload's outcome to the store's health figures, even
// when the request's own time is up.
func (h *routes) count(r *http.Request, outcome, reason string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	h.sink.Count(ctx, h.now(), outcome, reason)
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

func (h *routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	u, dropped := toUpload(p, h.known, h.functions, h.now(), src)
	out.series, out.dropped = len(u.Counters), dropped
	if len(u.Counters) > 0 {
		err = h.sink.Write(r.Context(), u) // counts it as accepted
	} else {
		h.count(r, sink.Accepted, "")
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
