package promwrite

import (
	"context"
	"time"

	"github.com/pace-cli/pace/function/internal/outbound"
	"github.com/pace-cli/pace/function/internal/sink"
)

var _ sink.Store = (*Sink)(nil)

// Check reports whether Open would accept these settings, without any
// I/O: the receiver checks its configuration at start with it.
func Check(spec string, auth Auth) error {
	_, err := Open(spec, auth)
	return err
}

// Count implements sink.Store: with Health set, the receiver's outcome
// counts become series of their own (WriteHealth); without, none are kept.
func (s *Sink) Count(ctx context.Context, at time.Time, outcome, reason string) {
	s.Health.Count(ctx, at, outcome, reason)
}

// Erase implements sink.Store: remote write appends samples and cannot
// delete series.
func (s *Sink) Erase(context.Context, string) (map[string]int64, error) {
	return nil, &sink.CannotEraseError{Store: "Prometheus", How: "this receiver writes by Prometheus remote write, which cannot delete series; " +
		"the store's operator deletes an installation's series with its admin API: " +
		"Prometheus POST /api/v1/admin/tsdb/delete_series?match[]={id=\"…\"} (with --web.enable-admin-api) then clean_tombstones, " +
		"VictoriaMetrics /api/v1/admin/tsdb/delete_series?match[]={id=\"…\"}, as docs/postgresql.md says under \"Erasure requests\""}
}

// Ready implements sink.Store: the endpoint's address accepts a
// connection (remote write has no read or ping request).
func (s *Sink) Ready(ctx context.Context) error { return outbound.Reachable(ctx, s.URL) }

// Close implements sink.Store: it drops the client's idle connections.
func (s *Sink) Close() error {
	s.Client.CloseIdleConnections()
	return nil
}
