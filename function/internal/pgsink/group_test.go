package pgsink_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/internal/sink"
)

// groupUpload is install id's upload of counts, "path:code" -> count.
func groupUpload(id string, at time.Time, counts ...any) *sink.Upload {
	u := &sink.Upload{ID: id, CLIVersion: "v1.25.0", OS: "linux", Received: at, Source: "198.51.100.7"}
	for i := 0; i < len(counts); i += 3 {
		u.Counters = append(u.Counters, sink.Counter{Path: counts[i].(string), ExitCode: counts[i+1].(int), Count: uint64(counts[i+2].(int))})
	}
	return u
}

// held holds the sink's one writer in its first batch until release is
// closed, and records the size of every batch.
type held struct {
	release chan struct{}
	entered chan struct{}
	once    sync.Once
	sizes   []int
	mu      sync.Mutex
}

func holdWriter(s *pgsink.Sink) *held {
	h := &held{release: make(chan struct{}), entered: make(chan struct{})}
	pgsink.SetBatchHook(s, func(ctx context.Context, tx pgx.Tx, attempt, n int) error {
		h.once.Do(func() { close(h.entered) })
		h.mu.Lock()
		h.sizes = append(h.sizes, n)
		h.mu.Unlock()
		<-h.release
		return nil
	})
	return h
}

// queueInOrder writes each upload from its own goroutine, starting the
// next only once the previous is queued (the writer is held), and
// returns their results.
func queueInOrder(t *testing.T, s *pgsink.Sink, ups ...*sink.Upload) []chan error {
	t.Helper()
	var out []chan error
	for _, u := range ups {
		before := pgsink.QueueLen(s)
		c := make(chan error, 1)
		go func() { c <- s.Write(context.Background(), u) }()
		for pgsink.QueueLen(s) == before {
			time.Sleep(time.Millisecond)
		}
		out = append(out, c)
	}
	return out
}

// TestGroupAppliesOneInstallInOrder: uploads of one install that land in
// one batch apply in the order they came, a reset between them included:
// 5, then a reset to (1, 1), then (2, 1) count 5+1+1 and 1; in any other
// order they would count otherwise (e.g. 5 and 1).
func TestGroupAppliesOneInstallInOrder(t *testing.T) {
	r := newRig(t, func(c *pgsink.Config) { c.Writers = 1 })
	h := holdWriter(r.sink)
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	const id = "6c1f4c3e-2b9a-4d7e-8f10-000000000001"
	// The first batch: another install, its writer held.
	first := make(chan error, 1)
	go func() {
		first <- r.sink.Write(context.Background(), groupUpload("6c1f4c3e-2b9a-4d7e-8f10-000000000099", at, "pace", 0, 1))
	}()
	<-h.entered
	results := queueInOrder(t, r.sink,
		groupUpload(id, at, "pace apply", 0, 5),
		groupUpload(id, at.Add(time.Second), "pace apply", 0, 1, "pace list", 0, 1),
		groupUpload(id, at.Add(2*time.Second), "pace apply", 0, 2, "pace list", 0, 1))
	close(h.release)
	for _, c := range append([]chan error{first}, results...) {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if len(h.sizes) != 2 || h.sizes[1] != 3 {
		t.Fatalf("batches of %v items: want the second to hold the install's 3 uploads", h.sizes)
	}
	want := map[string]int64{"pace/0": 1, "pace apply/0": 7, "pace list/0": 1}
	if got := r.perPathCode(t, `SELECT path, exit_code, sum(runs)::bigint FROM usage_daily GROUP BY 1, 2`); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("usage_daily %v, want %v", got, want)
	}
	if got, want := r.stored(t, id), map[string]int64{"pace apply/0": 2, "pace list/0": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored counts %v, want %v", got, want)
	}
}

// TestGroupOneFailingUploadFailsAlone: an upload whose row the database
// refuses (a NUL in a path: the receiver's validation keeps it out, so
// it stands for any row refused) fails alone; the other uploads of its
// batch commit, each counted once.
func TestGroupOneFailingUploadFailsAlone(t *testing.T) {
	r := newRig(t, func(c *pgsink.Config) { c.Writers = 1 })
	h := holdWriter(r.sink)
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	first := make(chan error, 1)
	go func() {
		first <- r.sink.Write(context.Background(), groupUpload("6c1f4c3e-2b9a-4d7e-8f10-000000000099", at, "pace", 0, 1))
	}()
	<-h.entered
	results := queueInOrder(t, r.sink,
		groupUpload("6c1f4c3e-2b9a-4d7e-8f10-000000000001", at, "pace apply", 0, 3),
		groupUpload("6c1f4c3e-2b9a-4d7e-8f10-000000000002", at, "pace bad\x00path", 0, 4),
		groupUpload("6c1f4c3e-2b9a-4d7e-8f10-000000000003", at, "pace list", 1, 2))
	close(h.release)
	for i, c := range append([]chan error{first}, results...) {
		err := <-c
		if (i == 2) != (err != nil) {
			t.Errorf("upload %d: %v; want only the bad one (2) to fail", i, err)
		}
	}
	if h.sizes[1] != 3 {
		t.Fatalf("batches of %v items: want the 3 uploads in the second", h.sizes)
	}
	want := map[string]int64{"pace/0": 1, "pace apply/0": 3, "pace list/1": 2}
	if got := r.perPathCode(t, `SELECT path, exit_code, sum(runs)::bigint FROM usage_daily GROUP BY 1, 2`); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("usage_daily %v, want %v", got, want)
	}
	if n := r.count(t, `SELECT count(*) FROM install_state WHERE install_key = $1`, r.sink.InstallKey("6c1f4c3e-2b9a-4d7e-8f10-000000000002")); n != 0 {
		t.Errorf("the failed upload left its install's state")
	}
}

// TestGroupFailedTransactionRetried: a batch whose transaction fails
// after its writes (its connection killed before the commit) is applied
// again, counted once; one that fails every time is answered 503 and
// leaves nothing.
func TestGroupFailedTransactionRetried(t *testing.T) {
	r := newRig(t)
	var fails atomic.Int64
	fails.Store(1)
	pgsink.SetBatchHook(r.sink, func(ctx context.Context, tx pgx.Tx, attempt, n int) error {
		if fails.Add(-1) < 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
		if err == nil {
			err = errors.New("the backend survived")
		}
		return err
	})
	const id = "6c1f4c3e-2b9a-4d7e-8f10-000000000001"
	if w := r.send(body(id, "v1.25.0", "linux", counts("pace apply", 0, 3, "pace list", 1, 2)), "198.51.100.7"); w.Code != http.StatusOK {
		t.Fatalf("answered %d %s, want 200 after the retry", w.Code, w.Body)
	}
	want := map[string]int64{"pace apply/0": 3, "pace list/1": 2}
	if got := r.perPathCode(t, `SELECT path, exit_code, sum(runs)::bigint FROM usage_daily GROUP BY 1, 2`); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("usage_daily %v, want %v (counted once)", got, want)
	}
	// Every transaction fails: 503, nothing stored, and the resend once
	// the database is back counts the runs once.
	fails.Store(1 << 20)
	if w := r.send(body(id, "v1.25.0", "linux", counts("pace apply", 0, 10, "pace list", 1, 2)), "198.51.100.7"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("answered %d %s, want 503", w.Code, w.Body)
	}
	if got := r.perPathCode(t, `SELECT path, exit_code, sum(runs)::bigint FROM usage_daily GROUP BY 1, 2`); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the 503, usage_daily %v, want %v", got, want)
	}
	fails.Store(0)
	if w := r.send(body(id, "v1.25.0", "linux", counts("pace apply", 0, 10, "pace list", 1, 2)), "198.51.100.7"); w.Code != http.StatusOK {
		t.Fatalf("answered %d %s, want 200", w.Code, w.Body)
	}
	want["pace apply/0"] = 10
	if got := r.perPathCode(t, `SELECT path, exit_code, sum(runs)::bigint FROM usage_daily GROUP BY 1, 2`); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the resend, usage_daily %v, want %v", got, want)
	}
}

// TestGroupBoundsExactUnderConcurrency: 40 new installs from one address
// at once, through 4 writers, with a bound of 5: exactly 5 admitted, 35
// answered 429, nothing left of those; and 30 concurrent uploads of one
// install (cumulative 10 … 300 runs, any order) with a daily bound of
// 100: exactly 100 counted, 200 recorded as clamped.
func TestGroupBoundsExactUnderConcurrency(t *testing.T) {
	r := newRig(t, func(c *pgsink.Config) { c.Writers = 4; c.NewInstallsPerSource = 5; c.MaxDailyRuns = 100 })
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := r.send(body(fmt.Sprintf("6c1f4c3e-2b9a-4d7e-8f10-%012d", 100+i), "v1.25.0", "linux", counts("pace apply", 0, 1)), "198.51.100.7")
			switch w.Code {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
			default:
				t.Errorf("answered %d %s", w.Code, w.Body)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 || limited.Load() != 35 {
		t.Errorf("%d admitted, %d answered 429; want 5 and 35", ok.Load(), limited.Load())
	}
	if n := r.count(t, `SELECT count(*) FROM install_state`); n != 5 {
		t.Errorf("%d installs stored, want 5", n)
	}
	if n := r.count(t, `SELECT coalesce(sum(new_installs), 0)::bigint FROM source_day`); n != 5 {
		t.Errorf("source_day counts %d new installs, want 5", n)
	}
	if n := r.count(t, `SELECT coalesce(sum(runs), 0)::bigint FROM usage_daily`); n != 5 {
		t.Errorf("usage_daily counts %d runs, want 5", n)
	}
	const id = "6c1f4c3e-2b9a-4d7e-8f10-000000000001"
	for i := 1; i <= 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := fmt.Sprintf("203.0.113.%d", i) // its own address: not the bounded one
			if w := r.send(body(id, "v1.25.0", "linux", counts("pace list", 0, 10*i)), src); w.Code != http.StatusOK {
				t.Errorf("answered %d %s", w.Code, w.Body)
			}
		}()
	}
	wg.Wait()
	if n := r.count(t, `SELECT coalesce(sum(runs), 0)::bigint FROM usage_daily WHERE path = 'pace list'`); n != 100 {
		t.Errorf("usage_daily counts %d runs of the bounded install, want exactly 100", n)
	}
	if n := r.count(t, `SELECT coalesce(sum(counted), 0)::bigint FROM install_day WHERE install_key = $1`, r.sink.InstallKey(id)); n != 100 {
		t.Errorf("install_day %d, want 100", n)
	}
	if h := r.health(t)[sink.Clamped+"/daily_runs"]; h[1] != 200 {
		t.Errorf("clamped runs %d, want 200", h[1])
	}
}

// TestGroupBoundAcrossDaysInOneBatch: a batch holding one install's
// uploads of two days (an upload received just before midnight applied
// with one just after) bounds each day on its own: with a bound of 5, the
// install's 4 runs of the first day and 8 of the second count 4 and 5,
// after a first day that had counted 3 of it already.
func TestGroupBoundAcrossDaysInOneBatch(t *testing.T) {
	r := newRig(t, func(c *pgsink.Config) { c.Writers, c.MaxDailyRuns = 1, 5 })
	late := time.Date(2026, 11, 2, 23, 59, 59, 0, time.UTC)
	const id = "6c1f4c3e-2b9a-4d7e-8f10-000000000002"
	if err := r.sink.Write(context.Background(), groupUpload(id, late.Add(-time.Hour), "pace", 0, 3)); err != nil {
		t.Fatal(err)
	}
	h := holdWriter(r.sink)
	first := make(chan error, 1)
	go func() {
		first <- r.sink.Write(context.Background(), groupUpload("6c1f4c3e-2b9a-4d7e-8f10-000000000099", late, "pace", 0, 1))
	}()
	<-h.entered
	results := queueInOrder(t, r.sink,
		groupUpload(id, late, "pace", 0, 7),                     // +4 on the first day: 2 left of 5
		groupUpload(id, late.Add(2*time.Second), "pace", 0, 15)) // +8 on the second: 5 counted
	close(h.release)
	for _, c := range append([]chan error{first}, results...) {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if len(h.sizes) != 2 || h.sizes[1] < 2 {
		t.Fatalf("batches of %v items: want the second to hold both days' uploads", h.sizes)
	}
	got := r.perPathCode(t, `SELECT day::text, 0, sum(runs)::bigint FROM usage_daily GROUP BY 1`)
	if want := map[string]int64{"2026-11-02/0": 1 + 3 + 2, "2026-11-03/0": 5}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("runs per day %v, want %v", got, want)
	}
}
