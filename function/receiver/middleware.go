package receiver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
)

// statusWriter remembers the status and size of a response for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	size   int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one line per request, at INFO for 2xx, WARNING for
// 4xx and ERROR for 5xx. It never logs the installation id, which is
// personal data; the handler reports only counts, version and OS.
func logRequests(log *slog.Logger, now func() time.Time, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		out := &outcome{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), outcomeKey{}, out)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		level := slog.LevelInfo
		switch {
		case sw.status >= 500:
			level = slog.LevelError
		case sw.status >= 400:
			level = slog.LevelWarn
		}
		var latency [32]byte
		attrs := make([]slog.Attr, 3, 7)
		// Cloud Logging shows this group as the entry's HTTP request.
		attrs[0] = slog.GroupAttrs("httpRequest",
			slog.String("requestMethod", r.Method),
			slog.Int("status", sw.status),
			slog.Int64("requestSize", r.ContentLength),
			slog.Int("responseSize", sw.size),
			slog.String("latency", string(append(strconv.AppendFloat(latency[:0], now().Sub(start).Seconds(), 'f', 6, 64), 's'))),
		)
		attrs[1] = slog.Int("series", out.series)
		attrs[2] = slog.Int("dropped", out.dropped)
		if out.version != "" {
			attrs = append(attrs, slog.String("cli_version", out.version), slog.String("operating_system", out.os))
		}
		if out.erasure {
			attrs = append(attrs, slog.Bool("erasure", true))
		}
		if out.err != "" {
			attrs = append(attrs, slog.String("error", out.err))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// recoverPanics turns a panic into a logged 500, so one bad request cannot
// take the instance down with the others it is serving.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			outcomeOf(r).err = fmt.Sprintf("panic: %v\n%s", v, debug.Stack())
			writeError(w, http.StatusInternalServerError, "internal: unexpected error")
		}()
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds a request: reading its body (where the server
// supports read deadlines) and delivering to the sink.
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		// Fails harmlessly where unsupported (httptest.ResponseRecorder).
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
