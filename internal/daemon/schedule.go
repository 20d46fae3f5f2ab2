package daemon

import (
	"time"

	"github.com/pace-cli/pace/internal/upload"
)

// Schedule decides when to upload. It holds no timers and reads no clock:
// the loop passes the time in, so tests can replay a week in microseconds.
type Schedule struct {
	Debounce    time.Duration  // quiet time after the last change
	Interval    time.Duration  // least time between successful uploads
	BackoffBase time.Duration  // first retry delay
	BackoffMax  time.Duration  // cap on retry delays
	MaxRetry    time.Duration  // cap on a receiver's Retry-After
	Jitter      func() float64 // in [0,1); spreads retries of many clients

	pending   bool      // counts may differ from what was delivered
	changedAt time.Time // last change seen
	asked     time.Time // the receiver asked us to wait until then (Retry-After)
}

// Asked tells whether the receiver asked us (with Retry-After) to wait
// past now; unlike our own backoff, that holds even for the last upload at
// shutdown.
func (s *Schedule) Asked(now time.Time) bool { return now.Before(s.asked) }

// Changed notes a change of the counts (or of the settings) at now.
func (s *Schedule) Changed(now time.Time) {
	s.pending = true
	s.changedAt = now
}

// Pending tells whether an upload is waiting.
func (s *Schedule) Pending() bool { return s.pending }

// Due returns when to try next: after the debounce, once the interval since
// the last success has passed, and not before a retry is allowed. ok is
// false when nothing is pending (the loop then arms no timer at all).
func (s *Schedule) Due(st *upload.State) (at time.Time, ok bool) {
	if !s.pending {
		return time.Time{}, false
	}
	at = s.changedAt.Add(s.Debounce)
	if !st.LastSuccess.IsZero() {
		at = later(at, st.LastSuccess.Add(s.Interval))
	}
	return later(at, st.RetryAt), true
}

// Done takes in the result of an attempt made at now and sets the next
// retry in st.
func (s *Schedule) Done(now time.Time, st *upload.State, res upload.Result) {
	if res.Outcome != upload.Retry {
		s.pending = false // delivered, nothing new, or refused until counts change
		return
	}
	wait := s.backoff(st.Failures)
	s.asked = time.Time{}
	if res.RetryAfter > 0 {
		wait = min(res.RetryAfter, s.MaxRetry)
		s.asked = now.Add(wait)
	}
	st.RetryAt = now.Add(wait)
}

// backoff is capped exponential with jitter: base·2^(n-1), at most
// BackoffMax, then a random part of the upper half taken off so that many
// clients that failed together do not come back together.
func (s *Schedule) backoff(failures int) time.Duration {
	d := s.BackoffMax
	if failures < 31 { // beyond that the shift overflows; the cap applies anyway
		d = min(s.BackoffBase<<max(failures-1, 0), s.BackoffMax)
	}
	j := 0.0
	if s.Jitter != nil {
		j = s.Jitter()
	}
	return d - time.Duration(j*float64(d/2))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
