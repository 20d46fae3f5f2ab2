// Package function is pace's telemetry receiver, a Google Cloud Function:
// it validates the uploads of pace CLIs, which it cannot authenticate, and
// writes them as Graphite tagged series, or as Prometheus samples by remote
// write, to a sink chosen by TELEMETRY_SINK.
//
// POST / with the JSON body of payload.Payload answers 200 "OK" (the body
// PACE's original CLI expects) with the number of counters of unknown
// command paths, which were dropped, in the X-Pace-Dropped header. Bad input
// gets a 4xx and {"error":"<field>: <what is wrong>"}; a failing sink gets
// 503 with Retry-After, so the client keeps its data and retries. A
// remote-write store that refuses the samples themselves (a 4xx such as
// out-of-order samples) gets 422, so the client does not send the same data
// again; its next upload carries the counts, which are cumulative.
package function

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

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/pace-cli/pace/function/graphite"
	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/function/promwrite"
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

// PromSink delivers Prometheus samples (*promwrite.Sink). An error that
// is a *promwrite.RejectedError means the store refused the samples for
// good; any other means they may be taken later.
type PromSink interface {
	Write(ctx context.Context, series []promwrite.Series) error
}

// Config is what a receiver is built from.
type Config struct {
	Sink     graphite.Sink    // Graphite series; or:
	PromSink PromSink         // pace_cli_invocations_total by remote write
	Interval time.Duration    // between uploads, told to the Graphite HTTP API; default DefaultInterval
	IDTag    bool             // write the installation id as a tag
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default: JSON on standard error
	Timeout  time.Duration    // per request; default DefaultTimeout
	Commands []string         // allow-list; nil: the embedded commands.txt
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
//	TELEMETRY_INTERVAL  seconds between a client's uploads (default 3600)
//	TELEMETRY_ID_TAG    on (default) or off: write the installation id tag
//	TELEMETRY_TIMEOUT   seconds a request may take (default 10)
func ConfigFromEnv(getenv func(string) string, stdout, stderr io.Writer) (Config, error) {
	cfg := Config{Logger: NewLogger(stderr), IDTag: true, Interval: DefaultInterval, Timeout: DefaultTimeout}
	if v := getenv("TELEMETRY_INTERVAL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_INTERVAL %q: want a positive number of seconds", v)
		}
		cfg.Interval = time.Duration(n) * time.Second
	}
	if v := getenv("TELEMETRY_TIMEOUT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_TIMEOUT %q: want a positive number of seconds", v)
		}
		cfg.Timeout = time.Duration(n) * time.Second
	}
	switch v := getenv("TELEMETRY_ID_TAG"); v {
	case "", "on":
	case "off":
		cfg.IDTag = false
	default:
		return Config{}, fmt.Errorf("TELEMETRY_ID_TAG %q: want on or off", v)
	}
	if spec := getenv("TELEMETRY_SINK"); promwrite.IsSpec(spec) {
		sink, err := promwrite.Open(spec, promwrite.Auth{
			User:        getenv("PROMETHEUS_USER"),
			Password:    getenv("PROMETHEUS_PASSWORD"),
			BearerToken: getenv("PROMETHEUS_BEARER_TOKEN"),
		})
		if err != nil {
			return Config{}, err
		}
		cfg.PromSink = sink
		return cfg, nil
	}
	sink, err := graphite.Open(getenv("TELEMETRY_SINK"), stdout, getenv("GRAPHITE_USER"), getenv("GRAPHITE_API_KEY"))
	if err != nil {
		return Config{}, err
	}
	cfg.Sink = sink
	return cfg, nil
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
	if (cfg.Sink == nil) == (cfg.PromSink == nil) {
		return nil, errors.New("function: want one sink: Sink or PromSink")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Interval < time.Second {
		return nil, fmt.Errorf("function: interval %v is under a second", cfg.Interval)
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
	known := make(map[string]commandInfo, len(paths))
	for _, p := range paths {
		if err := payload.ValidCommandPath(p); err != nil {
			return nil, fmt.Errorf("function: allow-list: %v", err)
		}
		known[p] = newCommandInfo(p)
	}
	r := &receiver{
		sink:     cfg.Sink,
		promSink: cfg.PromSink,
		interval: int(cfg.Interval / time.Second),
		idTag:    cfg.IDTag,
		now:      cfg.Now,
		known:    known,
	}
	return logRequests(cfg.Logger, cfg.Now, recoverPanics(withTimeout(cfg.Timeout, r))), nil
}

type receiver struct {
	sink     graphite.Sink
	promSink PromSink
	interval int
	idTag    bool
	now      func() time.Time
	known    map[string]commandInfo
}

// outcome is what the logging middleware reports about a request; the
// handler fills it in.
type outcome struct {
	err     string
	series  int
	dropped int
	version string
	os      string
}

type outcomeKey struct{}

func outcomeOf(r *http.Request) *outcome {
	if o, ok := r.Context().Value(outcomeKey{}).(*outcome); ok {
		return o
	}
	return &outcome{}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out := outcomeOf(r)
	fail := func(status int, msg string) {
		out.err = msg
		writeError(w, status, msg)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "method: "+payload.Quote(r.Method)+" is not allowed; use POST")
		return
	}
	if msg := checkContentType(r.Header.Get("Content-Type")); msg != "" {
		fail(http.StatusUnsupportedMediaType, msg)
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
	var dropped int
	if h.promSink != nil {
		var series []promwrite.Series
		series, dropped = toPromSeries(p, h.known, h.idTag, h.now())
		out.series, out.dropped = len(series), dropped
		if len(series) > 0 {
			err = h.promSink.Write(r.Context(), series)
		}
	} else {
		var series []graphite.Series
		series, dropped = toSeries(p, h.known, h.idTag, h.interval, h.now())
		out.series, out.dropped = len(series), dropped
		if len(series) > 0 {
			err = h.sink.Write(r.Context(), series)
		}
	}
	if err != nil {
		if errors.Is(err, graphite.ErrInvalidSeries) || errors.Is(err, promwrite.ErrInvalidSeries) {
			panic(err) // a bug: validation let something through
		}
		var rejected *promwrite.RejectedError
		if errors.As(err, &rejected) {
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
