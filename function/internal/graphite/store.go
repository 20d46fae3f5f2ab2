package graphite

import (
	"context"
	"io"
	"time"

	"github.com/pace-cli/pace/function/internal/outbound"
	"github.com/pace-cli/pace/function/internal/sink"
)

var _ sink.Store = (*Sink)(nil)

// Check reports whether Open would accept these settings, without any
// I/O: the receiver checks its configuration at start with it.
func Check(spec, user, key string) error {
	_, err := openWriter(spec, io.Discard, user, key)
	return err
}

// Count implements sink.Store: with Health set, the receiver's outcome
// counts become series of their own (WriteHealth); without, none are kept.
func (s *Sink) Count(ctx context.Context, at time.Time, outcome, reason string) {
	s.Health.Count(ctx, at, outcome, reason)
}

// Erase implements sink.Store: Graphite's ingest protocols (plaintext
// carbon, the hosted HTTP API) write series and cannot delete them.
func (s *Sink) Erase(context.Context, string) (map[string]int64, error) {
	return nil, &sink.CannotEraseError{Store: "Graphite", How: "this receiver writes to Graphite, whose ingest protocols cannot delete series; " +
		"the store's operator deletes an installation's series by removing its whisper files " +
		"(and their entries in the tag index: graphite-web's /tags/delSeries), as docs/postgresql.md says under \"Erasure requests\""}
}

// Ready implements sink.Store: standard output always is; carbon and the
// HTTP API are when their address accepts a connection.
func (s *Sink) Ready(ctx context.Context) error {
	switch w := s.W.(type) {
	case *CarbonSink:
		return outbound.Dial(ctx, w.Addr)
	case *HTTPSink:
		return outbound.Reachable(ctx, w.URL)
	}
	return nil
}

// Close implements sink.Store: every delivery has its own connection.
func (s *Sink) Close() error { return nil }
