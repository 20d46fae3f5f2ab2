package pgsink

// Bounds on what one install and one source address can add in a day: the
// receiver cannot authenticate uploads, and the dashboards sum client
// counts, so without them one address could claim any figure.
//
//   - Runs: on one UTC day an install's increments count up to
//     MaxDailyRuns, over all its counters together, allotted to its
//     counters in the upload's order (by path, then exit code). Its first
//     upload, carrying its history, counts within the same bound. What is
//     over is not counted, ever: the install's stored counts still move to
//     the upload's, so nothing of it is counted later either. Each clamp
//     adds to receiver_health (outcome "clamped", runs over the bound).
//   - New installs: at most NewInstallsPerSource install keys the sink has
//     not seen may arrive from one source address in a UTC day. The next
//     one is answered 429 with Retry-After until the next day (plus a
//     little jitter), and stored nothing: its daemon keeps its counts and
//     tries again then.
//
// The state behind both holds only the current day and is dropped after
// it: install_day under the install's keyed hash, source_day under
// HMAC(day's salt, address), where the salt is random per day (in
// source_salt) and deleted with the rows, so an address cannot be found
// from a hash once the day is over, even with TELEMETRY_ID_KEY.

import (
	"context"
	"crypto/hmac"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of the bounds.
const (
	// DefaultMaxDailyRuns: a developer runs a CLI tens to a few hundred
	// times on a busy day; 5,000 a day is one run every 17 s around the
	// clock, which only a busy CI runner reaches. A real install over it
	// loses the excess of that day (counted in receiver_health), so a
	// fleet of such runners should raise it.
	DefaultMaxDailyRuns = 5000
	// DefaultNewInstallsPerSource: a company rolling PACE out to 200
	// developers in one day behind one NAT address, with a quarter more
	// for second machines and resets. Beyond it uploads are delayed to the
	// next day, not lost.
	DefaultNewInstallsPerSource = 250
	// RetryJitter spreads the retries of installs refused until midnight.
	RetryJitter = 10 * time.Minute
)

// healthShards spread receiver_health's rows of one hour and outcome.
const healthShards = 16

// sourceKey is HMAC-SHA256 of the address under the day's salt (and the
// sink's key), the salt made by whichever instance needs it first.
func (s *Sink) sourceKey(ctx context.Context, day time.Time, source string) ([]byte, error) {
	if s.newPerSource < 0 {
		return nil, nil
	}
	s.saltMu.Lock()
	salt := s.salt
	if !s.saltDay.Equal(day) {
		salt = nil
	}
	s.saltMu.Unlock()
	if salt == nil {
		fresh := make([]byte, 32)
		if _, err := cryptorand.Read(fresh); err != nil {
			return nil, err
		}
		err := s.pool.QueryRow(ctx, query("new_salt"), day, fresh).Scan(&salt)
		if err == pgx.ErrNoRows {
			// Another instance's salt committed while this statement
			// waited on it, after its snapshot: read it now.
			err = s.pool.QueryRow(ctx, query("salt"), day).Scan(&salt)
		}
		if err != nil {
			return nil, err
		}
		s.saltMu.Lock()
		s.salt, s.saltDay = salt, day
		s.saltMu.Unlock()
	}
	m := hmac.New(sha256.New, append(append([]byte{}, s.key...), salt...))
	m.Write([]byte(source))
	return m.Sum(nil), nil
}

// queueHealthN adds uploads (and runs) to the hour's row of an outcome,
// on a random shard.
func queueHealthN(b *pgx.Batch, at time.Time, outcome, reason string, uploads, runs int64) {
	b.Queue(query("add_health"),
		at.UTC().Truncate(time.Hour), outcome, reason, rand.N(healthShards), uploads, runs)
}

// Count records an upload's outcome in receiver_health (sink.Health), in
// the transaction of the next batch (group.go). A failure is dropped: the
// figures must never cost an upload.
func (s *Sink) Count(ctx context.Context, at time.Time, outcome, reason string) {
	_ = s.enqueue(ctx, &item{at: at, outcome: outcome, reason: reason})
}
