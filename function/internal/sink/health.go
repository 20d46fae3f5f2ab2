package sink

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"
)

// HealthEvery is how often a stateless store gets this instance's health
// counts: each upload's outcome is counted in memory, and the cumulative
// counts are written with the first upload after this much time.
const HealthEvery = time.Minute

// HealthSeries is the health recording of a stateless store (Graphite,
// Prometheus), which keeps no state to add to: it counts outcomes in
// memory and hands them to a HealthWriter. The counts are this
// instance's since it started, labelled with a random name of it: several
// instances never write the same series, and a restart starts a new one,
// which rate() and nonNegativeDerivative() read as a counter reset.
type HealthSeries struct {
	w        HealthWriter
	receiver string

	mu      sync.Mutex
	counts  map[[2]string]uint64
	written time.Time
	writing bool
}

// NewHealthSeries returns the health recording of the store w, under a
// new random instance name.
func NewHealthSeries(w HealthWriter) *HealthSeries {
	b := make([]byte, 6)
	rand.Read(b)
	return &HealthSeries{w: w, receiver: hex.EncodeToString(b), counts: map[[2]string]uint64{}}
}

// Count counts one outcome, and writes the counts when HealthEvery has
// passed since they were last written. A nil *HealthSeries records
// nothing: a store built without one keeps no health figures.
func (m *HealthSeries) Count(ctx context.Context, at time.Time, outcome, reason string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.counts[[2]string{outcome, reason}]++
	due := !m.writing && (m.written.IsZero() || at.Sub(m.written) >= HealthEvery)
	var counts []HealthCount
	if due {
		m.writing = true
		for k, n := range m.counts {
			counts = append(counts, HealthCount{Outcome: k[0], Reason: k[1], Uploads: n})
		}
	}
	m.mu.Unlock()
	if !due {
		return
	}
	slices.SortFunc(counts, func(a, b HealthCount) int {
		return cmp.Or(cmp.Compare(a.Outcome, b.Outcome), cmp.Compare(a.Reason, b.Reason))
	})
	err := m.w.WriteHealth(ctx, at, m.receiver, counts)
	m.mu.Lock()
	m.writing = false
	if err == nil {
		m.written = at // else the next upload tries again
	}
	m.mu.Unlock()
}
