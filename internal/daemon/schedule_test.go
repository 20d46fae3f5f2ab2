package daemon

import (
	"errors"
	"testing"
	"time"

	"github.com/pace-cli/pace/internal/upload"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func testSchedule() *Schedule {
	return &Schedule{
		Debounce:    2 * time.Second,
		Interval:    time.Hour,
		BackoffBase: 30 * time.Second,
		BackoffMax:  time.Hour,
		MaxRetry:    24 * time.Hour,
		Jitter:      func() float64 { return 0 },
	}
}

func due(t *testing.T, s *Schedule, st *upload.State) time.Time {
	t.Helper()
	at, ok := s.Due(st)
	if !ok {
		t.Fatal("nothing pending")
	}
	return at
}

func TestIdleMeansNoTimer(t *testing.T) {
	s := testSchedule()
	if _, ok := s.Due(&upload.State{}); ok {
		t.Fatal("a schedule with no change wants a timer")
	}
}

func TestDebounceRestartsOnEachChange(t *testing.T) {
	s, st := testSchedule(), &upload.State{}
	s.Changed(t0)
	s.Changed(t0.Add(time.Second))
	if got := due(t, s, st); !got.Equal(t0.Add(3 * time.Second)) {
		t.Fatalf("due %v, want 2 s after the last change", got.Sub(t0))
	}
}

func TestIntervalSinceLastSuccess(t *testing.T) {
	s := testSchedule()
	st := &upload.State{LastSuccess: t0}
	s.Changed(t0.Add(10 * time.Minute))
	if got := due(t, s, st); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("due %v after the success, want the interval (1h)", got.Sub(t0))
	}
	// Long after the interval, only the debounce applies.
	s.Changed(t0.Add(5 * time.Hour))
	if got := due(t, s, st); !got.Equal(t0.Add(5*time.Hour + 2*time.Second)) {
		t.Fatalf("due %v", got.Sub(t0))
	}
}

func TestDeliveredClearsPending(t *testing.T) {
	s, st := testSchedule(), &upload.State{}
	s.Changed(t0)
	s.Done(t0, st, upload.Result{Outcome: upload.Delivered})
	if s.Pending() {
		t.Fatal("still pending after delivery")
	}
}

func TestRejectedIsNotRetriedUntilAChange(t *testing.T) {
	s, st := testSchedule(), &upload.State{}
	s.Changed(t0)
	s.Done(t0, st, upload.Result{Outcome: upload.Rejected, Status: 400, Err: errors.New("bad")})
	if s.Pending() {
		t.Fatal("a refused body is scheduled again")
	}
}

func TestBackoffDoublesToTheCapAndHonoursRetryAfter(t *testing.T) {
	s, st := testSchedule(), &upload.State{}
	s.Changed(t0)
	now := t0
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		st.Failures++ // as upload.Once counts it
		s.Done(now, st, upload.Result{Outcome: upload.Retry, Err: errors.New("down")})
		if got := st.RetryAt.Sub(now); got != w {
			t.Fatalf("failure %d: wait %v, want %v", i+1, got, w)
		}
		if !s.Pending() {
			t.Fatal("a failed upload is no longer pending")
		}
		now = st.RetryAt
	}
	if s.Asked(now) {
		t.Fatal("our own backoff counted as the receiver's request")
	}
	st.Failures++
	s.Done(now, st, upload.Result{Outcome: upload.Retry, RetryAfter: 90 * time.Second})
	if !s.Asked(now.Add(89*time.Second)) || s.Asked(now.Add(90*time.Second)) {
		t.Fatal("Retry-After not remembered as the receiver's request")
	}
	if got := st.RetryAt.Sub(now); got != 90*time.Second {
		t.Fatalf("Retry-After 90s gave a wait of %v", got)
	}
	s.Done(now, st, upload.Result{Outcome: upload.Retry, RetryAfter: 1000 * time.Hour})
	if got := st.RetryAt.Sub(now); got != 24*time.Hour {
		t.Fatalf("a huge Retry-After gave %v, want the 24h cap", got)
	}
}

func TestJitterTakesAtMostHalf(t *testing.T) {
	s := testSchedule()
	for _, j := range []float64{0, 0.5, 0.999} {
		s.Jitter = func() float64 { return j }
		d := s.backoff(3) // 2 min before jitter
		if d > 2*time.Minute || d < time.Minute {
			t.Fatalf("jitter %v: backoff %v outside [1m, 2m]", j, d)
		}
	}
}

// A week offline: retries never exceed the cap, never overflow, stay few
// (about one an hour), and the first success after it resets everything.
func TestAWeekOffline(t *testing.T) {
	s, st := testSchedule(), &upload.State{}
	s.Jitter = func() float64 { return 0.3 }
	s.Changed(t0)
	now, attempts := t0, 0
	for now.Before(t0.Add(7 * 24 * time.Hour)) {
		at := due(t, s, st)
		if at.Before(now) {
			at = now
		}
		if gap := at.Sub(now); gap > time.Hour {
			t.Fatalf("attempt %d: waited %v, over the 1h cap", attempts, gap)
		}
		now = at
		attempts++
		st.Failures++
		s.Done(now, st, upload.Result{Outcome: upload.Retry, Err: errors.New("connection refused")})
	}
	if attempts > 7*24*2+20 || attempts < 7*24 {
		t.Fatalf("%d attempts in a week", attempts)
	}
	st.Failures, st.LastSuccess, st.RetryAt = 0, now, time.Time{} // what upload.Once records on success
	s.Done(now, st, upload.Result{Outcome: upload.Delivered})
	s.Changed(now.Add(time.Minute))
	if got := due(t, s, st); !got.Equal(now.Add(time.Hour)) {
		t.Fatalf("after recovery the next upload is due in %v, want the interval", got.Sub(now))
	}
	if d := s.backoff(1); d != 30*time.Second-time.Duration(0.3*float64(15*time.Second)) {
		t.Fatalf("backoff did not start over: %v", d)
	}
}
