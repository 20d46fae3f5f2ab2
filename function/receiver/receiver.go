package receiver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func stdout() io.Writer { return os.Stdout }
func stderr() io.Writer { return os.Stderr }

// Receiver is the whole receiver, built from one Config: the upload and
// erasure routes, the probes, and the store, which it opens on the first
// request that needs it and closes in Close.
//
// Opening lazily keeps every start free of I/O: a database that is down
// at a cold start costs the requests of that moment a 503 with
// Retry-After (their clients keep their data and retry) and a CRITICAL
// log line with the reason, never a crash loop; the next request tries
// again.
type Receiver struct {
	cfg  Config
	opt  Options
	log  *slog.Logger
	wrap http.Handler // the middleware around serve

	mu      sync.Mutex
	routes  *routes       // nil until the store is open
	opening chan struct{} // non-nil while an attempt to open is in flight
	openErr error         // the last attempt's
	closed  bool
}

// New returns the receiver of cfg, without opening its store.
func New(cfg Config, o Options) (*Receiver, error) {
	o = o.withDefaults()
	if _, err := allowList(o.Commands); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	r := &Receiver{cfg: cfg, opt: o, log: o.Logger}
	r.wrap = logRequests(o.Logger, o.Now, recoverPanics(withTimeout(cfg.Timeout, http.HandlerFunc(r.serve))))
	return r, nil
}

// Probe paths, as Cloud Run and Kubernetes probes expect them.
const (
	HealthzPath = "/healthz" // 200 while the process serves
	ReadyzPath  = "/readyz"  // 200 when the store can be reached, else 503
)

// ServeHTTP answers the probes at /healthz and /readyz, and uploads and
// erasure requests at every other path (PACE's original fleet posts to /
// and to /telemetry).
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.URL.Path {
	case HealthzPath:
		probeAnswer(w, nil)
	case ReadyzPath:
		ctx, cancel := context.WithTimeout(req.Context(), r.cfg.Timeout)
		defer cancel()
		err := r.Ready(ctx)
		if err != nil {
			r.log.Error("readyz: the store cannot be reached", "error", err.Error())
		}
		probeAnswer(w, err)
	default:
		r.wrap.ServeHTTP(w, req)
	}
}

// probeAnswer is a probe's answer: 200 "ok", or 503 without the reason,
// which may name the store's host; the log has it.
func probeAnswer(w http.ResponseWriter, err error) {
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
		writeError(w, http.StatusServiceUnavailable, "store: cannot be reached")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// Ready reports whether the store is open and can be reached, opening it
// if it is not yet.
func (r *Receiver) Ready(ctx context.Context) error {
	rt, err := r.open(ctx)
	if err != nil {
		return err
	}
	return rt.sink.Ready(ctx)
}

// serve hands an upload or erasure request to the routes, once the store
// is open.
func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	rt, err := r.open(req.Context())
	if err != nil {
		out := outcomeOf(req)
		w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
		writeError(w, http.StatusServiceUnavailable, "sink: unavailable; retry later")
		out.err = "store: not open: " + err.Error()
		out.erasure = strings.HasSuffix(req.URL.Path, ForgetPath)
		return
	}
	rt.ServeHTTP(w, req)
}

// errClosed answers requests that arrive after Close.
var errClosed = errors.New("the receiver is shutting down")

// open returns the routes on the open store, opening it if no attempt
// is in flight, or waiting for the one that is (up to ctx). An attempt is
// not bound to the request that started it, so a client that gives up
// does not fail it for the others.
func (r *Receiver) open(ctx context.Context) (*routes, error) {
	r.mu.Lock()
	if r.routes != nil || r.closed {
		rt := r.routes
		r.mu.Unlock()
		if rt == nil {
			return nil, errClosed
		}
		return rt, nil
	}
	ch := r.opening
	if ch == nil {
		ch = make(chan struct{})
		r.opening = ch
		go r.attempt(ch)
	}
	r.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, errors.New("the store is still being opened")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.routes == nil {
		return nil, r.openErr
	}
	return r.routes, nil
}

// attempt opens the store once, and logs at CRITICAL why it could not:
// until it can, the receiver answers 503.
func (r *Receiver) attempt(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opt.OpenTimeout)
	defer cancel()
	st, err := r.cfg.OpenStore(ctx, r.opt)
	var rt *routes
	if err == nil {
		rt, err = newRoutes(HandlerConfig{Store: st, Now: r.opt.Now, Logger: r.log, Timeout: r.cfg.Timeout, Commands: r.opt.Commands,
			Source: r.cfg.Source, SourceRate: r.cfg.SourceRate, SourceBurst: r.cfg.SourceBurst})
		if err != nil {
			st.Close()
		}
	}
	if err != nil {
		Critical(r.log, "the store cannot be opened; uploads are answered 503 until it can (the next request tries again)",
			"error", err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opening, r.openErr = nil, err
	switch {
	case err == nil && r.closed:
		st.Close() // Close came first: it waited for this attempt
		r.openErr = errClosed
	case err == nil:
		r.routes = rt
	}
	close(done)
}

// Close closes the store, after an attempt to open it in flight has
// ended. The receiver then answers 503; call it after the server's
// Shutdown, when no request is left.
func (r *Receiver) Close() error {
	r.mu.Lock()
	r.closed = true
	ch := r.opening
	r.mu.Unlock()
	if ch != nil {
		<-ch
	}
	r.mu.Lock()
	rt := r.routes
	r.routes = nil
	r.mu.Unlock()
	if rt == nil {
		return nil
	}
	return rt.sink.Close()
}
