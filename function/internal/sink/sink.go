// Package sink is the one shape every store takes in the receiver: the
// validated counters of one upload, as a neutral Upload, handed to a
// Store, and everything else the receiver asks of a store (erasure, its
// health figures, readiness, closing), all in the Store interface. Each
// store (Graphite tagged series, Prometheus remote write, PostgreSQL)
// lives in its own package and implements Store; docs/configuration.md
// says what adding one takes.
package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pace-cli/pace/function/payload"
)

// Upload is what one accepted upload says, after validation: only counters
// of allow-listed command paths are in it. It is read-only for a Sink and
// must not be kept after Write returns (Words are shared between uploads).
type Upload struct {
	ID         string    // the installation's random UUID, canonical lower case
	CLIVersion string    // as validated by the receiver
	OS         string    // Go's GOOS, as validated by the receiver
	Received   time.Time // the receiver's clock when the upload arrived
	// Source is the address the upload came from, as TELEMETRY_SOURCE
	// says where to read it. It is personal data: a Sink may use it to
	// bound what one address can do, never store or log it raw.
	Source string
	// Counters are sorted by Path, then ExitCode; each (Path, ExitCode)
	// appears once.
	Counters []Counter
	// Crashes are the install's cumulative counts of crashes per command
	// path and crash site, sorted by Path, then Site: only allow-listed
	// paths, and sites whose every frame names one of pace's functions.
	Crashes []Crash
}

// CrashFunctions sums u's crashes per command path and innermost function
// of their sites: what the time-series stores keep, so that their series
// are bounded by the crash allow-list (sites, with their line offsets and
// callers, are PostgreSQL's). Sorted by Path, then Function.
func (u *Upload) CrashFunctions() []Crash {
	var out []Crash
	for _, c := range u.Crashes {
		fn := payload.CrashFunction(c.Site)
		if n := len(out); n > 0 && out[n-1].Path == c.Path && out[n-1].Site == fn {
			out[n-1].Count += c.Count
			continue
		}
		if i := slices.IndexFunc(out, func(o Crash) bool { return o.Path == c.Path && o.Site == fn }); i >= 0 {
			out[i].Count += c.Count
			continue
		}
		out = append(out, Crash{Path: c.Path, Words: c.Words, Site: fn, Count: c.Count})
	}
	slices.SortFunc(out, func(a, b Crash) int { return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Site, b.Site)) })
	return out
}

// Crash is one cumulative count of an installation's crashes of one
// command path at one crash site (see payload.ValidCrashSite).
type Crash struct {
	Path  string
	Words []string // the words after "pace", as in Counter
	Site  string
	Count uint64 // cumulative, never an increment
}

// Counter is one cumulative count of an installation: how many runs of one
// command path ended with one exit code since the counts were last reset.
type Counter struct {
	Path     string   // the whole command path, e.g. "pace list tables"
	Words    []string // the words after "pace", e.g. ["list" "tables"]; empty for "pace"
	ExitCode int
	Count    uint64 // cumulative, never an increment
}

// A Store is where the receiver delivers each accepted upload, and
// everything else it asks of the store. Each store's package checks it
// implements all of it at compile time (var _ sink.Store = (*Sink)(nil)).
//
// Write returns nil only when the store has taken all of u's counters: the
// receiver then answers 200 and the client forgets them. Such a Write has
// also counted u as Accepted in the health figures (see Count), in the
// same transaction where the store has one: an accepted upload costs the
// store one commit, not two. Any error means
// they were not (all) taken, and it is classified by what the client
// should do:
//
//   - a *RefusedError (see Refuse) means the store refused this data for
//     good (out of order, too old, over a limit): sending it again would
//     fail again. The receiver answers 422 and the client does not resend;
//     its next upload, made when the counts change, carries these runs too,
//     since they are cumulative.
//   - an error wrapping ErrInvalid means the receiver let through data the
//     store cannot represent: a bug, which the receiver turns into a 500.
//   - any other error means the data may be taken later (the store is
//     down, slow, overloaded, or the sink misconfigured): the receiver
//     answers 503 with Retry-After and the client keeps its data.
//
// Write must honour ctx's deadline and be safe for concurrent use. Its
// error may quote the store; the receiver removes the installation id
// before logging it, but a Store must never put its own secrets in it.
//
// Erase deletes, in one transaction, every row the store keeps under an
// installation's id, for its erasure request, and returns how many it
// deleted, per table. An id the store never saw gives the same tables,
// each with 0: the answer has one shape whatever the id, and only the
// id's holder can ask (the id is the proof). A store whose write protocol
// cannot delete returns a *CannotEraseError naming the store's own admin
// API (the receiver answers 501, which the daemon does not retry); any
// other error is a 503.
//
// Count records one upload's outcome in the receiver's health figures
// (see Accepted and the other outcomes). Reasons are fixed words, never
// input; the figures hold no install id and no address. Count must not
// fail the request: a store logs or drops what it cannot record.
//
// Ready reports whether the store can be reached now (the /readyz probe):
// nil, or why not. It must honour ctx.
//
// Close releases what the store holds (connections); the receiver calls
// it once, after its last request.
type Store interface {
	Write(ctx context.Context, u *Upload) error
	Erase(ctx context.Context, id string) (map[string]int64, error)
	Count(ctx context.Context, at time.Time, outcome, reason string)
	Ready(ctx context.Context) error
	Close() error
}

// CannotEraseError is a store's answer to an erasure request when its
// write protocol cannot delete (remote write, Graphite's line protocol).
// Error is the one sentence the receiver answers with: it names the
// store's own admin API, with which its operator can delete.
type CannotEraseError struct {
	Store string // e.g. "Graphite"
	How   string // the sentence: why not, and how the operator can
}

func (e *CannotEraseError) Error() string { return e.How }

// RefusedError wraps a store's refusal of the data itself.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Refuse marks err as the store's refusal of the data for good.
func Refuse(err error) error { return &RefusedError{Err: err} }

// IsRefused reports whether err is, or wraps, a RefusedError.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// ErrInvalid reports data that a store cannot represent and that the
// receiver should never have accepted.
var ErrInvalid = errors.New("sink: invalid data")

// Invalidf returns an error wrapping ErrInvalid.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// LimitedError is a sink's answer that this source sent more than it may
// for now (new installs per address and day): the receiver answers 429
// with Retry-After, and the client, keeping its data, tries again then.
type LimitedError struct {
	Reason     string        // a fixed word for the receiver's health figures, e.g. "new_installs"
	RetryAfter time.Duration // when trying again can succeed
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("sink: over the limit (%s); retry in %v", e.Reason, e.RetryAfter)
}

// Health outcomes: what became of one upload, for the receiver's own
// figures (receiver_health in PostgreSQL, a counter series elsewhere).
const (
	Accepted    = "accepted"     // taken by the store
	Refused     = "refused"      // a 4xx: the upload is wrong; the reason says how
	Clamped     = "clamped"      // taken, but runs over the daily bound not counted
	RateLimited = "rate_limited" // a 429: too much from one source; retried later
)

// HealthCount is one cumulative count of an outcome, since the receiver
// instance started.
type HealthCount struct {
	Outcome, Reason string
	Uploads         uint64
}

// HealthWriter is what a stateless store (Graphite, Prometheus) hands its
// health figures to: HealthSeries counts outcomes in memory and now and
// then gives WriteHealth this instance's cumulative counts, as series
// labelled with the instance (receiver) and never an install id or address.
type HealthWriter interface {
	WriteHealth(ctx context.Context, at time.Time, receiver string, counts []HealthCount) error
}
