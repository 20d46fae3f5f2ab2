package pgsink_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/internal/simweek"
	"github.com/pace-cli/pace/function/receiver"
)

// Minimal retention: a simulated 60-day fleet goes through the handler
// into a real PostgreSQL whose sink keeps per-install activity for
// TELEMETRY_PG_ACTIVITY_DAYS at its minimum (30), pruning as uploads arrive
// on each new day. Afterwards no activity row older than 30 days is left,
// and every per-day panel, over the whole 60 days and over ranges wholly
// before the activity window, equals the simulation's truth: the older
// days come from the rollups. So do "Adoption of versions" and the
// first day of "Newest version".
func TestRollupsKeepPanelsExactOver60Days(t *testing.T) {
	r := newRig(t)
	s, err := pgsink.Open(context.Background(), pgsink.Config{DSN: r.dsn, IDKey: testKey, MaxConns: 16, ActivityDays: pgsink.MinActivityDays})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h, err := receiver.NewHandler(receiver.HandlerConfig{Store: s, Now: func() time.Time { return time.Unix(0, r.now.Load()).UTC() }, Logger: receiver.NewLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC) // a Monday
	const days = 60
	end := start.AddDate(0, 0, days)
	fleet := simweek.Simulate(simweek.Config{Seed: 20261204, Start: start, Days: days, Installs: 6, NewInstalls: 3})
	lastDay := time.Time{}
	for _, u := range fleet.Uploads {
		// The receiver prunes in the background on each new day; here it
		// prunes in the foreground, so that the test knows it happened.
		if d := u.At.UTC().Truncate(24 * time.Hour); d.After(lastDay) {
			if !lastDay.IsZero() {
				if err := s.Prune(context.Background(), d); err != nil {
					t.Fatal(err)
				}
			}
			lastDay = d
		}
		r.at(u.At)
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(u.Body())))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("upload at %v answered %d: %s", u.At, w.Code, w.Body)
		}
	}
	if err := s.Prune(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	c := r.conn(t)
	window := end.AddDate(0, 0, -pgsink.MinActivityDays)
	var oldest, first, last time.Time
	var rolled int
	if err := c.QueryRow(context.Background(), `SELECT (SELECT min(day) FROM active_daily), min(day), max(day), count(*) FROM activity_rollup`).Scan(&oldest, &first, &last, &rolled); err != nil {
		t.Fatal(err)
	}
	// Rolled up: every day from the first upload (some installs have
	// history from before the simulation's start) to two days back.
	if oldest.Before(window) || first.After(start) || !last.Equal(end.AddDate(0, 0, -2)) || rolled != int(last.Sub(first)/(24*time.Hour))+1 {
		t.Fatalf("oldest activity %v (want from %v on); %d days rolled up, %v to %v", oldest, window, rolled, first, last)
	}

	panels, cmdQuery := readDashboard(t)
	perDay := map[string]bool{"Daily active installs": true, "Weekly active installs": true, "Monthly active installs": true, "Week-over-week retention": true,
		"Daily active installs per CLI version": true, "Daily active installs per operating system": true, "Daily installs per command": true}
	cmdRows, err := c.Query(context.Background(), cmdQuery)
	if err != nil {
		t.Fatal(err)
	}
	commands, err := pgx.CollectRows(cmdRows, pgx.RowTo[string])
	if err != nil || len(commands) < 3 {
		t.Fatalf("the command variable lists %v (%v)", commands, err)
	}
	found := 0
	for _, rg := range []struct {
		name     string
		from, to time.Time
	}{
		{"60 days", start, end},
		{"days 0-20, before the window", start, start.AddDate(0, 0, 21)},
		{"days 25-45, across its edge", start.AddDate(0, 0, 25), start.AddDate(0, 0, 46)},
		{"the last week", end.AddDate(0, 0, -7), end},
	} {
		for _, p := range panels {
			if !perDay[p.Title] {
				continue
			}
			found++
			exp := expected(p.Title, fleet.Truth, rg.from, rg.to, commands)
			got := normVersions(p.Title, query(t, c, grafanaSQL(p.Targets[0].RawSQL, rg.from, rg.to, commands)))
			if len(exp) == 0 || !same(got, exp) {
				t.Errorf("%s, %q:\n got  %v\n want %v", rg.name, p.Title, got, exp)
			}
		}
	}
	if found != 4*len(perDay) {
		t.Fatalf("the dashboard has %d of the per-day panels", found/4)
	}
	// "Adoption of versions" is a per-day figure too: for rolled-up days
	// it reads installs_rollup. "Newest version" counts the installs of a
	// range in active_daily, so it is exact for ranges inside the window,
	// and its first_day, days before the window here, comes from
	// installs_rollup.
	vars := dashboardVars(t)
	ranges := map[string][][2]time.Time{
		"Adoption of versions": {{start, end}, {start, start.AddDate(0, 0, 21)}, {start.AddDate(0, 0, 25), start.AddDate(0, 0, 46)}},
		"Newest version":       {{window, end}, {end.AddDate(0, 0, -7), end}},
	}
	if first := fleet.Releases[1].At; !first.Before(window) {
		t.Fatalf("the newest release, %v, is not before the activity window (%v): first_day would not need the rollups", first, window)
	}
	for _, p := range panels {
		for _, rg := range ranges[p.Title] {
			tr := &releaseTruth{tr: fleet.Truth, from: rg[0], to: rg[1], vars: vars}
			_, want := tr.want(p.Title, nil)
			_, got := table(t, c, withVars(grafanaSQL(p.Targets[0].RawSQL, rg[0], rg[1], nil), vars))
			if len(want) == 0 || !sameRows(got, want, 1e-9) {
				t.Errorf("%v to %v, %q:\n got  %v\n want %v", rg[0], rg[1], p.Title, got, want)
			}
		}
	}

	// Installs per version and per system, per day, for every rolled-up
	// day: the truth's latest version (and system) of each install that
	// day.
	rows, err := c.Query(context.Background(), `SELECT day, cli_version, os, installs FROM installs_rollup WHERE day >= $1`, start)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var day time.Time
	var version, osName string
	var n int32
	if _, err := pgx.ForEachRow(rows, []any{&day, &version, &osName, &n}, func() error {
		got[fmt.Sprintf("%s %s", day.Format(time.DateOnly), strings.TrimPrefix(version, "v"))] += int(n)
		got[fmt.Sprintf("%s %s", day.Format(time.DateOnly), osName)] += int(n)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for d := start; !d.After(end.AddDate(0, 0, -2)); d = d.AddDate(0, 0, 1) {
		for v, k := range fleet.Truth.InstallsByVersion(d, d.AddDate(0, 0, 1)) {
			want[fmt.Sprintf("%s %s", d.Format(time.DateOnly), strings.TrimPrefix(v, "v"))] += k
		}
		for o, k := range fleet.Truth.InstallsByOS(d, d.AddDate(0, 0, 1)) {
			want[fmt.Sprintf("%s %s", d.Format(time.DateOnly), o)] += k
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("installs %s: %d, want none", k, g)
		}
	}
	if len(want) < days {
		t.Fatalf("installs per day and version or system: %d figures, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("installs %s: %d, want %d", k, got[k], w)
		}
	}
	t.Logf("%d uploads over %d days; activity kept from %s", len(fleet.Uploads), days, oldest.Format(time.DateOnly))
}

func TestActivityDaysRefusedTooShort(t *testing.T) {
	env := map[string]string{"TELEMETRY_ID_KEY": string(testKey), "TELEMETRY_PG_ACTIVITY_DAYS": "29"}
	_, err := pgsink.ConfigFromEnv("postgres://u@h/db", func(k string) string { return env[k] }, nil)
	if err == nil || !strings.Contains(err.Error(), "TELEMETRY_PG_ACTIVITY_DAYS=29 is too short") || !strings.Contains(err.Error(), "at least 30") {
		t.Fatalf("29 days: %v", err)
	}
	env["TELEMETRY_PG_ACTIVITY_DAYS"] = "30"
	if cfg, err := pgsink.ConfigFromEnv("postgres://u@h/db", func(k string) string { return env[k] }, nil); err != nil || cfg.ActivityDays != 30 {
		t.Fatalf("30 days: %+v %v", cfg, err)
	}
	if _, err := pgsink.Open(context.Background(), pgsink.Config{DSN: "postgres://u@127.0.0.1:1/db", IDKey: testKey, ActivityDays: 7}); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("Open with 7 days: %v", err)
	}
}

// Monthly active installs of a day not yet rolled up count installs by
// their state, so the state may not go before the month is over.
func TestIdleDaysRefusedTooShort(t *testing.T) {
	env := map[string]string{"TELEMETRY_ID_KEY": string(testKey), "TELEMETRY_PG_IDLE_DAYS": "29"}
	_, err := pgsink.ConfigFromEnv("postgres://u@h/db", func(k string) string { return env[k] }, nil)
	if err == nil || !strings.Contains(err.Error(), "TELEMETRY_PG_IDLE_DAYS=29 is too short") || !strings.Contains(err.Error(), "at least 30") {
		t.Fatalf("29 days: %v", err)
	}
	env["TELEMETRY_PG_IDLE_DAYS"] = "30"
	if cfg, err := pgsink.ConfigFromEnv("postgres://u@h/db", func(k string) string { return env[k] }, nil); err != nil || cfg.IdleDays != 30 {
		t.Fatalf("30 days: %+v %v", cfg, err)
	}
	if _, err := pgsink.Open(context.Background(), pgsink.Config{DSN: "postgres://u@127.0.0.1:1/db", IDKey: testKey, IdleDays: 7}); err == nil || !strings.Contains(err.Error(), "TELEMETRY_PG_IDLE_DAYS=7 is too short") {
		t.Fatalf("Open with 7 days: %v", err)
	}
}
