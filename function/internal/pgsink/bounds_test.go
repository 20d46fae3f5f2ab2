package pgsink_test

// The bounds on one install and one address, and receiver_health, through
// the real handler into a real PostgreSQL.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/servertest"
)

// send posts b as coming from the address src and returns the answer.
func (r *rig) send(b, src string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = src + ":40000"
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w
}

// health returns receiver_health summed over shards, "outcome/reason" ->
// [uploads, runs].
func (r *rig) health(t testing.TB) map[string][2]int64 {
	t.Helper()
	rows, err := r.conn(t).Query(context.Background(), `SELECT outcome, reason, sum(uploads)::bigint, sum(runs)::bigint FROM receiver_health GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]int64{}
	var o, reason string
	var u, n int64
	if _, err := pgx.ForEachRow(rows, []any{&o, &reason, &u, &n}, func() error { out[o+"/"+reason] = [2]int64{u, n}; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func (r *rig) stored(t testing.TB, id string) map[string]int64 {
	t.Helper()
	return r.perPathCode(t, `SELECT t.* FROM install_state, unnest(counter_paths, counter_codes, counter_counts) AS t WHERE install_key = $1`, r.sink.InstallKey(id))
}

func counts(pairs ...any) map[string]map[int]uint64 {
	m := map[string]map[int]uint64{}
	for i := 0; i < len(pairs); i += 3 {
		p := pairs[i].(string)
		if m[p] == nil {
			m[p] = map[int]uint64{}
		}
		m[p][pairs[i+1].(int)] = uint64(pairs[i+2].(int))
	}
	return m
}

func TestDailyRunsBound(t *testing.T) {
	r := newRig(t, func(c *pgsink.Config) { c.MaxDailyRuns = 100 })
	day := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	r.at(day)
	// The first upload carries history: counted within the day's bound,
	// allotted in the upload's order (path, then exit code).
	r.post(t, body(id1, "v1.25.0", "linux", counts("pace list tables", 0, 70, "pace version", 0, 50)))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 70, "pace version/0": 30})
	// The stored state is the real counts, so the excess never counts later.
	want(t, r.stored(t, id1), map[string]int64{"pace list tables/0": 70, "pace version/0": 50})
	r.at(day.Add(time.Hour))
	r.post(t, body(id1, "v1.25.0", "linux", counts("pace list tables", 0, 75, "pace version", 0, 50)))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 70, "pace version/0": 30})
	// The next day the bound starts again.
	r.at(day.Add(24 * time.Hour))
	r.post(t, body(id1, "v1.25.0", "linux", counts("pace list tables", 0, 80, "pace version", 0, 52)))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 75, "pace version/0": 32})
	// Maximal counts: the day's bound, no more; a reset cannot restart it.
	r.post(t, body(id1, "v1.25.0", "linux", counts("pace list tables", 0, 4294967295, "pace version", 0, 52)))
	r.post(t, body(id1, "v1.25.0", "linux", counts("pace list tables", 0, 1, "pace version", 0, 4294967295)))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 75 + 93, "pace version/0": 32})
	h := r.health(t)
	over := int64(20 + 5 + (4294967295 - 80 - 93) + (4294967295 - 52 + 1))
	if h["clamped/daily_runs"] != [2]int64{4, over} {
		t.Errorf("clamps recorded %v, want 4 uploads and %d runs", h["clamped/daily_runs"], over)
	}
	if h["accepted/"][0] != 5 {
		t.Errorf("accepted %v, want 5", h["accepted/"])
	}
	// Clamps are in receiver_health only: the usage tables have no trace.
	var n int
	r.conn(t).QueryRow(context.Background(), `SELECT count(*) FROM usage_daily WHERE runs <= 0`).Scan(&n)
	if n != 0 {
		t.Errorf("%d usage rows of 0 runs", n)
	}
}

func TestNewInstallsPerSource(t *testing.T) {
	r := newRig(t, func(c *pgsink.Config) { c.NewInstallsPerSource = 3 })
	day := time.Date(2026, 11, 2, 18, 0, 0, 0, time.UTC)
	r.at(day)
	id := func(i int) string { return fmt.Sprintf("5b0e7c52-1f6a-4c1e-9d7e-%012d", i) }
	up := func(i, n int) string { return body(id(i), "v1.25.0", "linux", counts("pace list tables", 0, n)) }
	for i := range 3 {
		if w := r.send(up(i, 1), "203.0.113.7"); w.Code != 200 {
			t.Fatalf("install %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := r.send(up(3, 1), "203.0.113.7")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("the 4th new install of one address: %d %s", w.Code, w.Body)
	}
	secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if toMidnight := 6 * 3600; err != nil || secs < toMidnight || secs > toMidnight+int(pgsink.RetryJitter/time.Second) {
		t.Fatalf("Retry-After %q, want the time to the next UTC day plus at most the jitter", w.Header().Get("Retry-After"))
	}
	// Refused, it stored nothing, and did not use up the address's bound.
	if got := r.stored(t, id(3)); len(got) != 0 {
		t.Fatalf("a refused install has state %v", got)
	}
	if w := r.send(up(3, 1), "203.0.113.7"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("again: %d", w.Code)
	}
	// Known installs of the address go on; other addresses are not affected.
	if w := r.send(up(0, 5), "203.0.113.7"); w.Code != 200 {
		t.Fatalf("a known install: %d %s", w.Code, w.Body)
	}
	if w := r.send(up(4, 1), "198.51.100.2"); w.Code != 200 {
		t.Fatalf("another address: %d %s", w.Code, w.Body)
	}
	c := r.conn(t)
	var salts, sources, past int
	c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM source_salt), (SELECT count(*) FROM source_day)`).Scan(&salts, &sources)
	if salts != 1 || sources != 2 {
		t.Fatalf("%d salts, %d source rows, want 1 and 2", salts, sources)
	}
	// The next day it is counted, in full: only delayed.
	r.at(day.Add(time.Duration(secs) * time.Second))
	if w := r.send(up(3, 2), "203.0.113.7"); w.Code != 200 {
		t.Fatalf("the next day: %d %s", w.Code, w.Body)
	}
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 1 + 1 + 5 + 1 + 2})
	h := r.health(t)
	if h["rate_limited/new_installs"][0] != 2 || h["accepted/"][0] != 6 {
		t.Errorf("health %v, want 2 rate-limited and 6 accepted", h)
	}
	// The day's address hashes, their salt and the day's counted runs go
	// with the day (pruned by the first upload of the next).
	eventually(t, "the past day's bounds state to be dropped", func() bool {
		c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM source_salt), (SELECT count(*) FROM source_day), (SELECT count(*) FROM install_day WHERE day < '2026-11-03')`).Scan(&salts, &sources, &past)
		return salts == 1 && sources == 1 && past == 0
	})
	// No table holds an address, as text or as the bytes of its text.
	for _, addr := range []string{"203.0.113.7", "198.51.100.2"} {
		noColumnHolds(t, c, addr)
	}
}

// noColumnHolds fails if any text or bytea column of any table holds s.
func noColumnHolds(t *testing.T, c *pgx.Conn, s string) {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'bytea')`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Table, Column string }])
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range cols {
		var hits int
		q := fmt.Sprintf(`SELECT count(*) FROM %[1]s WHERE position($1 in encode(convert_to(%[2]s::text, 'UTF8'), 'escape')) > 0 OR position($1 in %[2]s::text) > 0`,
			pgx.Identifier{col.Table}.Sanitize(), pgx.Identifier{col.Column}.Sanitize())
		if err := c.QueryRow(context.Background(), q, s).Scan(&hits); err != nil {
			t.Fatalf("%s.%s: %v", col.Table, col.Column, err)
		}
		if hits > 0 {
			t.Errorf("%s.%s holds %s", col.Table, col.Column, s)
		}
	}
}

func TestHealthRefusals(t *testing.T) {
	r := newRig(t)
	r.at(time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC))
	r.post(t, body(id1, "v1.25.0", "linux", counts("pace list tables", 0, 1)))
	r.send(`{"id": "not json`, "192.0.2.9")
	r.send(body("not-a-uuid", "v1.25.0", "linux", counts("pace list tables", 0, 1)), "192.0.2.9")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	r.h.ServeHTTP(httptest.NewRecorder(), req)
	h := r.health(t)
	if h["accepted/"][0] != 1 || h["refused/invalid"][0] != 2 || h["refused/method"][0] != 1 {
		t.Fatalf("health %v", h)
	}
	var hours int
	r.conn(t).QueryRow(context.Background(), `SELECT count(DISTINCT hour) FROM receiver_health WHERE hour = '2026-11-02T09:00:00Z'`).Scan(&hours)
	if hours != 1 {
		t.Fatalf("rows are not per UTC hour")
	}
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestTwoInstancesOneDaySalt: two receiver instances on one database take
// the first uploads of a day at once, from one address: one salt, every
// upload taken, and the address's new installs counted across both.
func TestTwoInstancesOneDaySalt(t *testing.T) {
	r := newRig(t)
	other, err := pgsink.Open(context.Background(), pgsink.Config{DSN: r.dsn, IDKey: testKey, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	at := time.Date(2026, 11, 2, 0, 0, 1, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		s := r.sink
		if i%2 == 1 {
			s = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Write(context.Background(), &sink.Upload{ID: fmt.Sprintf("5b0e7c52-1f6a-4c1e-9d7e-%012d", i), CLIVersion: "v1.25.0", OS: "linux",
				Received: at, Source: "203.0.113.50", Counters: []sink.Counter{{Path: "pace version", Words: []string{"version"}, Count: 1}}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var salts, news int
	r.conn(t).QueryRow(context.Background(), `SELECT (SELECT count(*) FROM source_salt), (SELECT sum(new_installs) FROM source_day)`).Scan(&salts, &news)
	if salts != 1 || news != 40 {
		t.Fatalf("%d salts and %d new installs counted, want 1 and 40", salts, news)
	}
}

// TestPruneDropsAddressStateWhenRollupFails: the day's address hashes,
// their salt and the bounds' counts go after the day even when the
// rollup fails (here made to by a trigger), and the activity the failed
// rollup did not read stays for the next prune. A failing background
// prune is logged.
func TestPruneDropsAddressStateWhenRollupFails(t *testing.T) {
	var logged servertest.SyncBuffer
	r := newRig(t, func(c *pgsink.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logged, nil)) })
	day := time.Date(2026, 11, 2, 18, 0, 0, 0, time.UTC)
	r.at(day)
	if w := r.send(body("5b0e7c52-1f6a-4c1e-9d7e-000000000001", "v1.25.0", "linux", counts("pace list tables", 0, 2)), "203.0.113.7"); w.Code != 200 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	ctx := context.Background()
	c := r.conn(t)
	state := func() (n [4]int) {
		if err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM source_salt), (SELECT count(*) FROM source_day), (SELECT count(*) FROM install_day), (SELECT count(*) FROM active_daily)`).Scan(&n[0], &n[1], &n[2], &n[3]); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := state(); got != [4]int{1, 1, 1, 1} {
		t.Fatalf("salt, source, install-day and activity rows %v, want one each", got)
	}
	if _, err := c.Exec(ctx, `CREATE FUNCTION fail_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'rollup broken by the test'; END $$;
		CREATE TRIGGER fail_rollup BEFORE INSERT ON activity_rollup FOR EACH ROW EXECUTE FUNCTION fail_rollup()`); err != nil {
		t.Fatal(err)
	}
	later := day.AddDate(0, 0, 40)
	if err := r.sink.Prune(ctx, later); err == nil || !strings.Contains(err.Error(), "rollup broken by the test") {
		t.Fatalf("prune with a failing rollup: %v", err)
	}
	if got := state(); got != [4]int{0, 0, 0, 1} {
		t.Fatalf("after a failed rollup: salt, source, install-day and activity rows %v, want the address state gone and the activity kept", got)
	}
	// The receiver's own prune, in the background on a later day's first
	// upload, says that it failed.
	r.at(later.AddDate(0, 0, 1))
	if w := r.send(body("5b0e7c52-1f6a-4c1e-9d7e-000000000001", "v1.25.0", "linux", counts("pace list tables", 0, 3)), "203.0.113.7"); w.Code != 200 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	eventually(t, "the failed prune to be logged", func() bool {
		l := logged.String()
		return strings.Contains(l, `"level":"ERROR"`) && strings.Contains(l, "daily prune failed") && strings.Contains(l, "rollup broken by the test")
	})
	if _, err := c.Exec(ctx, `DROP TRIGGER fail_rollup ON activity_rollup`); err != nil {
		t.Fatal(err)
	}
	if err := r.sink.Prune(ctx, later); err != nil {
		t.Fatal(err)
	}
	var rolled, left int
	if err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM activity_rollup WHERE day = $1 AND dau = 1), (SELECT count(*) FROM active_daily WHERE day = $1)`, day.Truncate(24*time.Hour)).Scan(&rolled, &left); err != nil || rolled != 1 || left != 0 {
		t.Fatalf("the next prune: %d rollups of the day (%v), its activity rows %d", rolled, err, left)
	}
}
