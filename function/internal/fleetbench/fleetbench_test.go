package fleetbench_test

// A small run of the benchmark's harness against a real PostgreSQL: the
// synthetic fleet has the sink's shape, and every panel of the dashboard
// runs on it without an error. (No times are asserted: bench/panels.sh
// measures them.)

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/fleetbench"
	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/receiver"
	"github.com/pace-cli/pace/function/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.Run(m)) }

func TestSmallFleetRunsEveryPanel(t *testing.T) {
	ctx := context.Background()
	dsn := servertest.NewDatabase(t)
	s, err := pgsink.Open(ctx, pgsink.Config{DSN: dsn, IDKey: []byte("0123456789abcdef0123456789abcdef"), Commands: receiver.Commands(), ActivityDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	last := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	// 40 days, so that the sink's prune (30 activity days) rolls up and
	// deletes the oldest.
	f := fleetbench.Fleet{Installs: 1000, Days: 40, LastDay: last, Active: 0.30, Seed: 7, Prune: s.Prune}
	st, err := fleetbench.Generate(ctx, c, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if st.MeanActive < 0.22 || st.MeanActive > 0.38 {
		t.Errorf("%.3f of the installs active on a mean day, want about 0.30", st.MeanActive)
	}

	// The fleet's shape is the sink's.
	one := func(sql string) int64 {
		t.Helper()
		var n int64
		if err := c.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		return n
	}
	if a, b := one(`SELECT sum(runs) FROM usage_daily`), one(`SELECT sum(n) FROM install_state, unnest(counter_counts) AS n`); a != b || a == 0 {
		t.Errorf("usage_daily counts %d runs, the installs' counts %d", a, b)
	}
	if n := one(`SELECT count(DISTINCT i) FROM fleetgen.active`); n != st.Installs {
		t.Errorf("%d installs active, %d in install_state", n, st.Installs)
	}
	if n := one(`SELECT count(*) FROM install_state s WHERE last_day <> date '2026-10-25' + (SELECT max(d) FROM fleetgen.active a WHERE a.key = s.install_key)`); n != 0 {
		t.Errorf("%d installs' last_day is not their last active day", n)
	}
	if n := one(`SELECT count(*) FROM active_daily WHERE day > date '2026-12-03' OR length(install_key) <> 32`); n != 0 {
		t.Errorf("%d activity rows after the last day or with a key that is not 32 bytes", n)
	}
	// command_daily: one row per install, day, command and version that
	// ran, its failed flag set when one of the runs failed; the same
	// installs and days as active_daily.
	if n := one(`SELECT count(*) FROM command_daily c WHERE NOT EXISTS (
		SELECT 1 FROM active_daily a WHERE a.day = c.day AND a.install_key = c.install_key AND a.cli_version = c.cli_version)`); n != 0 {
		t.Errorf("%d command rows without the install's active day on that version", n)
	}
	if n := one(`SELECT count(*) FROM active_daily a WHERE NOT EXISTS (
		SELECT 1 FROM command_daily c WHERE a.day = c.day AND a.install_key = c.install_key)`); n != 0 {
		t.Errorf("%d active days without a command", n)
	}
	if a, b := one(`SELECT count(*) FROM command_daily WHERE failed`), one(`SELECT count(*) FROM command_daily`); a == 0 || a == b {
		t.Errorf("%d of %d command rows failed, want some and not all", a, b)
	}
	// command_path is the receiver's allow-list.
	if a, b := one(`SELECT count(*) FROM command_path`), int64(len(receiver.Commands())); a != b {
		t.Errorf("command_path holds %d paths, the allow-list %d", a, b)
	}
	// The prune kept 30 days of per-install rows and rolled up the days
	// before (up to two days back), each as many installs as were active.
	if n := one(`SELECT count(*) FROM active_daily WHERE day < date '2026-11-03'`) + one(`SELECT count(*) FROM command_daily WHERE day < date '2026-11-03'`); n != 0 {
		t.Errorf("%d per-install rows older than the activity days", n)
	}
	if n := one(`SELECT count(*) FROM activity_rollup`); n != 38 {
		t.Errorf("%d days rolled up, want the 38 up to two days back", n)
	}
	if n := one(`SELECT count(*) FROM activity_rollup r WHERE r.day >= date '2026-11-03' AND r.dau <> (SELECT count(*) FROM active_daily a WHERE a.day = r.day)`); n != 0 {
		t.Errorf("%d rolled-up days disagree with their activity rows", n)
	}
	if n := one(`SELECT count(*) FROM retention_rollup`); n < 4 {
		t.Errorf("%d weeks of retention rolled up, want at least 4", n)
	}
	if n := one(`SELECT count(DISTINCT cli_version) FROM active_daily`); n < 3 {
		t.Errorf("%d versions in use, want releases rolling out", n)
	}
	if n := one(`SELECT count(DISTINCT os) FROM active_daily`); n != 3 {
		t.Errorf("%d systems, want linux, darwin and windows", n)
	}
	rows, err := c.Query(ctx, `SELECT DISTINCT path FROM usage_daily`)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	allowed := receiver.Commands()
	for _, p := range paths {
		if !slices.Contains(allowed, p) {
			t.Errorf("path %q is not on the receiver's allow-list", p)
		}
	}
	for _, cm := range fleetbench.Commands {
		if !slices.Contains(allowed, cm.Path) {
			t.Errorf("command %q is not on the receiver's allow-list", cm.Path)
		}
	}
	if len(paths) < 10 {
		t.Errorf("only %d commands ran: %v", len(paths), paths)
	}

	// Every panel runs, over the dashboard's default range, and answers.
	d, err := fleetbench.ReadDashboard("../../dashboards/pace-telemetry-postgres.json")
	if err != nil {
		t.Fatal(err)
	}
	from, to, err := d.Range(last.Add(12 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	vars, err := d.Vars(ctx, c, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(vars["command"]) == 0 {
		t.Fatalf("the command variable is %q", vars["command"])
	}
	timed := fleetbench.Time(ctx, c, d.Queries, from, to, vars, 1)
	if len(timed) < 12 {
		t.Errorf("%d queries timed, the dashboard has at least 12 panels", len(timed))
	}
	for _, q := range timed {
		switch {
		case q.Err != nil:
			t.Errorf("%s: %v\n%s", q.Panel, q.Err, q.Substituted)
		case q.Rows == 0:
			t.Errorf("%s: no rows over the fleet's week", q.Panel)
		case len(q.Times) != 1 || q.Median <= 0 || q.P90 < q.Median:
			t.Errorf("%s: times %v, median %v, p90 %v", q.Panel, q.Times, q.Median, q.P90)
		}
	}
}

func TestRange(t *testing.T) {
	now := time.Date(2026, 12, 3, 14, 30, 0, 0, time.UTC) // a Thursday
	for _, c := range []struct {
		from, to string
		want     [2]string
	}{
		{"now-30d/d", "now/d", [2]string{"2026-11-03T00:00:00Z", "2026-12-03T23:59:59.999Z"}},
		{"now-7d", "now", [2]string{"2026-11-26T14:30:00Z", "2026-12-03T14:30:00Z"}},
		{"now/w", "now/w", [2]string{"2026-11-30T00:00:00Z", "2026-12-06T23:59:59.999Z"}},
		{"now-6h/h", "now+1d", [2]string{"2026-12-03T08:00:00Z", "2026-12-04T14:30:00Z"}},
	} {
		d := &fleetbench.Dashboard{From: c.from, To: c.to}
		from, to, err := d.Range(now)
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]string{from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano)}; got != c.want {
			t.Errorf("%s to %s: %v, want %v", c.from, c.to, got, c.want)
		}
	}
	for _, bad := range []string{"now-30x", "2026-12-01", "now-1M/M"} {
		d := &fleetbench.Dashboard{From: bad, To: "now"}
		if _, _, err := d.Range(now); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
