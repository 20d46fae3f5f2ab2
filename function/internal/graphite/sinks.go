package graphite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pace-cli/pace/function/internal/outbound"
)

// WriterSink writes carbon plaintext lines to W, one Write per request so
// lines of concurrent requests never interleave.
type WriterSink struct {
	mu sync.Mutex
	W  io.Writer
}

// Write implements Writer.
func (s *WriterSink) Write(ctx context.Context, series []Series) error {
	b, err := Plaintext(series)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.W.Write(b)
	return err
}

// DefaultTimeout bounds one delivery when the context has no deadline.
const DefaultTimeout = 10 * time.Second

// CarbonSink sends carbon plaintext over TCP to Addr (carbon-cache, a relay
// or VictoriaMetrics), one connection per request: a receiver may run as
// many short-lived instances, and a pooled connection that died silently
// would swallow writes.
//
// Plaintext has no acknowledgement, so after writing, CarbonSink closes its
// sending side and waits for the server to close the connection: a server
// does that only once it has read everything before the end of stream.
type CarbonSink struct {
	Addr string
}

// Write implements Writer.
func (s *CarbonSink) Write(ctx context.Context, series []Series) error {
	b, err := Plaintext(series)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("carbon: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("carbon: %w", err)
	}
	if _, err := conn.Write(b); err != nil {
		return fmt.Errorf("carbon: write: %w", err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			return fmt.Errorf("carbon: close: %w", err)
		}
	}
	// Carbon never answers; anything it sends is discarded until EOF, which
	// alone confirms delivery (the deadline bounds the wait).
	if _, err := io.Copy(io.Discard, conn); err != nil {
		return fmt.Errorf("carbon: waiting for the server to close: %w", err)
	}
	return nil
}

// maxReply bounds what is read of a reply; Grafana's is a short JSON object.
const maxReply = 64 << 10

// HTTPSink posts series to Grafana Cloud's Graphite HTTP API
// (https://<stack>/graphite/metrics), or anything that speaks it.
type HTTPSink struct {
	URL    string
	User   string
	Key    string // never logged or returned in an error
	Client *http.Client
}

// NewHTTPSink returns an HTTPSink with a client that does not follow
// redirects, so credentials go only to the configured URL.
func NewHTTPSink(rawURL, user, key string) *HTTPSink {
	return &HTTPSink{
		URL: rawURL, User: user, Key: key,
		Client: outbound.Client(),
	}
}

// Write implements Writer.
func (s *HTTPSink) Write(ctx context.Context, series []Series) error {
	if len(series) == 0 {
		return nil
	}
	body, err := HTTPBody(series)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("graphite http: %w", err)
	}
	// Grafana Cloud rejects "application/json; charset=utf-8".
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(s.User, s.Key)
	resp, err := outbound.Do(s.Client, req)
	if err != nil {
		return fmt.Errorf("graphite http: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	cut := len(reply) > maxReply
	reply = s.redact(reply)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("graphite http: %s: %.200q", resp.Status, reply)
	}
	if cut {
		// Too long to check whether samples were rejected: not proof of
		// delivery.
		return fmt.Errorf("graphite http: %s with a reply over %d bytes, which cannot be checked", resp.Status, maxReply)
	}
	return checkReply(reply)
}

// redact removes the key, plain or inside a basic-auth header, from a reply
// that is about to go into an error message and so into the logs: a proxy
// or a verbose API may echo what it was sent.
func (s *HTTPSink) redact(reply []byte) []byte {
	return outbound.Redact(reply, s.User, s.Key)
}
