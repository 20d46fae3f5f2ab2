package pgsink_test

// Tests of the PostgreSQL sink through the receiver's real handler against
// a real PostgreSQL on 127.0.0.1 (package servertest).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/receiver"
	"github.com/pace-cli/pace/function/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.Run(m)) }

var testKey = []byte("0123456789abcdef0123456789abcdef")

// rig is a receiver with a PostgreSQL sink on a fresh database.
type rig struct {
	dsn  string
	sink *pgsink.Sink
	h    http.Handler
	now  atomic.Int64 // unix nanoseconds of the receiver's clock
}

func newRig(t testing.TB, opts ...func(*pgsink.Config)) *rig {
	t.Helper()
	r := &rig{dsn: servertest.NewDatabase(t)}
	cfg := pgsink.Config{DSN: r.dsn, IDKey: testKey, MaxConns: 16, Commands: receiver.Commands()}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := pgsink.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r.sink = s
	r.now.Store(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC).UnixNano())
	h, err := receiver.NewHandler(receiver.HandlerConfig{Store: s, Now: func() time.Time { return time.Unix(0, r.now.Load()).UTC() }, Logger: receiver.NewLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	return r
}

func (r *rig) at(t time.Time) { r.now.Store(t.UnixNano()) }

// body is an upload as PACE's CLI sends it.
func body(id, version, osName string, counts map[string]map[int]uint64) string {
	mp := map[string]map[string]map[string]uint64{}
	for p, codes := range counts {
		mp[p] = map[string]map[string]uint64{}
		for c, n := range codes {
			mp[p][fmt.Sprint(c)] = map[string]uint64{"cumulative_count": n}
		}
	}
	b, _ := json.Marshal(map[string]any{"metric_points": mp, "cli_version": version, "operating_system": osName, "id": id})
	return string(b)
}

func (r *rig) post(t testing.TB, b string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("upload answered %d: %s", w.Code, w.Body)
	}
}

func (r *rig) conn(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// runs returns the summed runs of usage_daily per "path/code".
func (r *rig) runs(t testing.TB) map[string]int64 {
	t.Helper()
	return r.perPathCode(t, `SELECT path, exit_code, sum(runs)::bigint FROM usage_daily GROUP BY 1, 2`)
}

// perPathCode runs a query of (path, exit code, number) rows and returns
// the numbers per "path/code".
func (r *rig) perPathCode(t testing.TB, sql string, args ...any) map[string]int64 {
	t.Helper()
	rows, err := r.conn(t).Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	var p string
	var c int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &c, &n}, func() error { out[fmt.Sprintf("%s/%d", p, c)] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func want(t *testing.T, got map[string]int64, w map[string]int64) {
	t.Helper()
	if len(got) != len(w) {
		t.Fatalf("runs %v, want %v", got, w)
	}
	for k, v := range w {
		if got[k] != v {
			t.Fatalf("runs %v, want %v", got, w)
		}
	}
}

const id1 = "5b0e7c52-1f6a-4c1e-9d7e-2a1b3c4d5e6f"

func TestParallelUploadsOfOneInstallNeverDoubleCount(t *testing.T) {
	r := newRig(t)
	// N uploads of one install, each a later cumulative state: whatever
	// order they are applied in, the total must be the largest count.
	const n = 32
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: uint64(i), 1: uint64(2 * i)}}))
		}()
	}
	wg.Wait()
	// Late uploads applied after a larger one add nothing, so the total is
	// at most n; the last one applied is the largest only if order held,
	// so post the final state once more, as the client's next upload would.
	r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: n, 1: 2 * n}}))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": n, "pace list tables/1": 2 * n})

	// Parallel identical uploads of a new state: counted once.
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: n + 5, 1: 2 * n}}))
		}()
	}
	wg.Wait()
	want(t, r.runs(t), map[string]int64{"pace list tables/0": n + 5, "pace list tables/1": 2 * n})
}

func TestResendLateAndReset(t *testing.T) {
	r := newRig(t)
	day := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	r.at(day)
	a := body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 3}, "pace version": {0: 1}})
	b := body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 5}, "pace version": {0: 1}})
	r.post(t, a)
	r.post(t, a) // resent identical
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 3, "pace version/0": 1})
	r.post(t, b)
	r.post(t, a) // older, arriving late
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 5, "pace version/0": 1})
	r.post(t, b)
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 5, "pace version/0": 1})
	// A reset (or replaced file): one counter smaller, one new.
	r.at(day.Add(24 * time.Hour))
	r.post(t, body(id1, "v1.26.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 2}, "pace apply": {1: 4}}))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 7, "pace version/0": 1, "pace apply/1": 4})
	// The stored counts are now the reset's: "pace version" starts again.
	r.post(t, body(id1, "v1.26.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 3}, "pace apply": {1: 4}, "pace version": {0: 1}}))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 8, "pace version/0": 2, "pace apply/1": 4})

	// Per day and version.
	var d2 int64
	if err := r.conn(t).QueryRow(context.Background(), `SELECT sum(runs) FROM usage_daily WHERE day = '2026-11-03' AND cli_version = 'v1.26.0'`).Scan(&d2); err != nil {
		t.Fatal(err)
	}
	if d2 != 3+1+4-0 {
		t.Fatalf("runs of 2026-11-03 = %d, want 8", d2)
	}
	var active int
	if err := r.conn(t).QueryRow(context.Background(), `SELECT count(*) FROM active_daily`).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if active != 2 {
		t.Fatalf("%d active rows, want 2 (one install on two days)", active)
	}
}

// TestRawIDNeverStored scans every text and bytea column of every table
// for the id, in any case, as text or as the bytes of its text.
func TestRawIDNeverStored(t *testing.T) {
	r := newRig(t)
	r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 3}}))
	r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 4}}))
	c := r.conn(t)
	rows, err := c.Query(context.Background(), `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb')`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Table, Column string }])
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 5 {
		t.Fatalf("only %d text columns found: %v", len(cols), cols)
	}
	compact := strings.ReplaceAll(id1, "-", "")
	for _, col := range cols {
		var hits int
		q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE position(lower($1) in lower(encode(convert_to(%s::text, 'UTF8'), 'escape'))) > 0
			OR position(lower($2) in lower(%s::text)) > 0 OR position(lower($1) in lower(%s::text)) > 0`,
			pgx.Identifier{col.Table}.Sanitize(), pgx.Identifier{col.Column}.Sanitize(), pgx.Identifier{col.Column}.Sanitize(), pgx.Identifier{col.Column}.Sanitize())
		if err := c.QueryRow(context.Background(), q, id1, compact).Scan(&hits); err != nil {
			t.Fatalf("%s.%s: %v", col.Table, col.Column, err)
		}
		if hits > 0 {
			t.Errorf("%s.%s holds the raw installation id", col.Table, col.Column)
		}
	}
	// And the key stored is the HMAC, so the scan looked at the right rows.
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM install_state WHERE install_key = $1`, r.sink.InstallKey(id1)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("install_state rows under the HMAC key: %d, %v", n, err)
	}
}

func TestMigrationIdempotentAndConcurrent(t *testing.T) {
	dsn := servertest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := pgsink.Open(context.Background(), pgsink.Config{DSN: dsn, IDKey: testKey})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var versions, max int
	if err := c.QueryRow(context.Background(), `SELECT count(*), max(version) FROM schema_version`).Scan(&versions, &max); err != nil {
		t.Fatal(err)
	}
	if versions != pgsink.SchemaVersion() || max != pgsink.SchemaVersion() {
		t.Fatalf("schema_version has %d rows up to %d, want %d", versions, max, pgsink.SchemaVersion())
	}
	// A database newer than the receiver is refused, clearly.
	if _, err := c.Exec(context.Background(), `INSERT INTO schema_version (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	_, err = pgsink.Open(context.Background(), pgsink.Config{DSN: dsn, IDKey: testKey})
	if err == nil || !strings.Contains(err.Error(), "newer than this receiver") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}

func TestRetention(t *testing.T) {
	r := newRig(t)
	old := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	r.at(old)
	r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 3}}))
	if err := r.sink.Prune(context.Background(), old.AddDate(0, 0, pgsink.DefaultIdleDays+1)); err != nil {
		t.Fatal(err)
	}
	var state, usage int
	c := r.conn(t)
	c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM install_state), (SELECT count(*) FROM usage_daily)`).Scan(&state, &usage)
	if state != 0 || usage != 1 {
		t.Fatalf("after the idle time: %d state rows (want 0), %d aggregate rows (want 1)", state, usage)
	}
	// Returning, it is new: its cumulative counts are counted again.
	r.at(old.AddDate(0, 0, pgsink.DefaultIdleDays+1))
	r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 4}}))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 3 + 4})
	if err := r.sink.Prune(context.Background(), old.AddDate(0, 0, pgsink.DefaultRetentionDays+1)); err != nil {
		t.Fatal(err)
	}
	c.QueryRow(context.Background(), `SELECT count(*) FROM usage_daily`).Scan(&usage)
	if usage != 1 {
		t.Fatalf("after the retention: %d aggregate rows, want 1 (the return day's)", usage)
	}
}

func TestBadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	noFile := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	dsn := "postgres://pace:s3cretpw@127.0.0.1:1/db"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no key", map[string]string{}, "TELEMETRY_ID_KEY is not set"},
		{"bad retention", map[string]string{"TELEMETRY_ID_KEY": string(testKey), "TELEMETRY_PG_RETENTION_DAYS": "-1"}, "TELEMETRY_PG_RETENTION_DAYS"},
		{"bad idle", map[string]string{"TELEMETRY_ID_KEY": string(testKey), "TELEMETRY_PG_IDLE_DAYS": "x"}, "TELEMETRY_PG_IDLE_DAYS"},
		{"missing password file", map[string]string{"TELEMETRY_ID_KEY": string(testKey), "TELEMETRY_PG_PASSWORD_FILE": "/no/such"}, "TELEMETRY_PG_PASSWORD_FILE"},
	} {
		_, err := pgsink.ConfigFromEnv(dsn, env(tc.env), noFile)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	cfg, err := pgsink.ConfigFromEnv(dsn, env(map[string]string{"TELEMETRY_ID_KEY": string(testKey), "TELEMETRY_PG_PASSWORD_FILE": "/run/secret"}),
		func(string) ([]byte, error) { return []byte("frompw\n"), nil })
	if err != nil || cfg.Password != "frompw" {
		t.Fatalf("password file: %q, %v", cfg.Password, err)
	}
	// Short key; unreachable server: the error never shows the password.
	if _, err := pgsink.Open(context.Background(), pgsink.Config{DSN: dsn, IDKey: []byte("short")}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short key: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgsink.Open(ctx, pgsink.Config{DSN: dsn, IDKey: testKey})
	if err == nil || strings.Contains(err.Error(), "s3cretpw") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("unreachable server: %v (want an error naming the host, never the password)", err)
	}
	// Through the receiver's switch: the key is required.
	_, err = receiver.LoadConfig(env(map[string]string{"TELEMETRY_SINK": dsn}), os.ReadFile)
	if err == nil || !strings.Contains(err.Error(), "TELEMETRY_ID_KEY") {
		t.Errorf("TELEMETRY_SINK=postgres without a key: %v", err)
	}
	if got := pgsink.Redact(dsn + "?password=other"); strings.Contains(got, "s3cretpw") || strings.Contains(got, "other") {
		t.Errorf("Redact: %s", got)
	}
}
