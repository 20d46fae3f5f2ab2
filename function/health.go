package function

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
)

// HealthEvery is how often a stateless store gets this instance's health
// counts: each upload's outcome is counted in memory, and the cumulative
// counts are written with the first upload after this much time.
const HealthEvery = time.Minute

// memHealth counts outcomes for a sink.HealthWriter. The counts are this
// instance's since it started, labelled with a random name of it: several
// instances never write the same series, and a restart starts a new one,
// which rate() and nonNegativeDerivative() read as a counter reset.
type memHealth struct {
	w        sink.HealthWriter
	receiver string

	mu      sync.Mutex
	counts  map[[2]string]uint64
	written time.Time
	writing bool
}

func newMemHealth(w sink.HealthWriter) *memHealth {
	b := make([]byte, 6)
	rand.Read(b)
	return &memHealth{w: w, receiver: hex.EncodeToString(b), counts: map[[2]string]uint64{}}
}

// Count implements sink.Health.
func (m *memHealth) Count(ctx context.Context, at time.Time, outcome, reason string) {
	m.mu.Lock()
	m.counts[[2]string{outcome, reason}]++
	due := !m.writing && (m.written.IsZero() || at.Sub(m.written) >= HealthEvery)
	var counts []sink.HealthCount
	if due {
		m.writing = true
		for k, n := range m.counts {
			counts = append(counts, sink.HealthCount{Outcome: k[0], Reason: k[1], Uploads: n})
		}
	}
	m.mu.Unlock()
	if !due {
		return
	}
	slices.SortFunc(counts, func(a, b sink.HealthCount) int {
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
