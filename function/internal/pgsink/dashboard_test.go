package pgsink_test

// The PostgreSQL dashboard's ground-truth test: a simulated fortnight of
// installs (package simweek) goes through the real handler, with its clock
// set to each upload's time, into a real PostgreSQL; then every panel's
// SQL runs as Grafana runs it (macros and the command variable
// substituted) over several ranges, and must equal the simulation's truth
// exactly.

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/simweek"
)

// readDashboard returns the PostgreSQL dashboard's panels and the query
// of its command variable.
func readDashboard(t *testing.T) (panels []dashboards.Panel, commandQuery string) {
	d := dashboards.MustLoad(dashboards.Postgres)
	if v := d.Variable("command"); v != nil {
		commandQuery, _ = v.Query.(string)
	}
	return d.Panels, commandQuery
}

var (
	timeGroup = regexp.MustCompile(`\$__timeGroup\(([^,]+), '1d'\)`)
	timeFrom  = regexp.MustCompile(`\$__timeFrom\(\)`)
	timeTo    = regexp.MustCompile(`\$__timeTo\(\)`)
	timeFilt  = regexp.MustCompile(`\$__timeFilter\(([^)]+)\)`)
)

// grafanaSQL substitutes the macros as Grafana's PostgreSQL data source
// does, and a multi-value variable as a list of quoted strings.
func grafanaSQL(sql string, from, to time.Time, commands []string) string {
	f, tt := "'"+from.UTC().Format(time.RFC3339)+"'", "'"+to.UTC().Format(time.RFC3339)+"'"
	sql = timeGroup.ReplaceAllString(sql, "floor(extract(epoch from $1)/86400)*86400")
	sql = timeFilt.ReplaceAllString(sql, "$1 BETWEEN "+f+" AND "+tt)
	sql = timeFrom.ReplaceAllString(sql, f)
	sql = timeTo.ReplaceAllString(sql, tt)
	q := make([]string, len(commands))
	for i, c := range commands {
		q[i] = "'" + strings.ReplaceAll(c, "'", "''") + "'"
	}
	return strings.ReplaceAll(sql, "$command", strings.Join(q, ","))
}

// result maps a row's leading columns, joined by "|", to its last column.
func query(t *testing.T, c *pgx.Conn, sql string) map[string]float64 {
	t.Helper()
	rows, err := c.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	out := map[string]float64{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var key []string
		for _, v := range vals[:len(vals)-1] {
			key = append(key, keyOf(v))
		}
		out[strings.Join(key, "|")] = number(t, vals[len(vals)-1])
	}
	if rows.Err() != nil {
		t.Fatalf("%v\n%s", rows.Err(), sql)
	}
	return out
}

func number(t *testing.T, v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case float64:
		return x
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil {
			t.Fatal(err)
		}
		return f.Float64
	}
	t.Fatalf("value %T %v", v, v)
	return 0
}

func keyOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case pgtype.Numeric:
		i := new(big.Int).Set(x.Int)
		for e := x.Exp; e > 0; e-- {
			i.Mul(i, big.NewInt(10))
		}
		return i.String()
	}
	return fmt.Sprint(v)
}

func dayKey(d time.Time) string { return fmt.Sprint(d.Unix()) }

// expected builds each panel's figures from the truth, by title.
func expected(title string, tr *simweek.Truth, from, to time.Time, commands []string) map[string]float64 {
	out := map[string]float64{}
	chosen := func(p string) bool { return slices.Contains(commands, p) }
	days := func(f func(d, next time.Time)) {
		for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
			f(d, d.AddDate(0, 0, 1))
		}
	}
	rate := func(fail, all map[string]uint64, prefix string) {
		for p, n := range all {
			if chosen(p) && n > 0 {
				out[prefix+p] = 100 * float64(fail[p]) / float64(n)
			}
		}
	}
	version := func(s simweek.Seen) string { return strings.TrimPrefix(s.Version, "v") }
	switch title {
	case "Unique installs":
		out[""] = float64(tr.Installs(from, to))
	case "Invocations per command":
		days(func(d, next time.Time) {
			for p, n := range tr.RunsPerCommand(d, next) {
				if chosen(p) && n > 0 {
					out[dayKey(d)+"|"+p] = float64(n)
				}
			}
		})
	case "Failure rate per command":
		rate(tr.FailingPerCommand(from, to), tr.RunsPerCommand(from, to), "")
	case "Installs per CLI version", "Installs per operating system":
		for _, s := range tr.IDs(from, to) {
			if title == "Installs per CLI version" {
				out[version(s)]++
			} else {
				out[s.OS]++
			}
		}
	case "Daily active installs per CLI version", "Daily active installs per operating system":
		days(func(d, next time.Time) {
			for _, s := range tr.IDs(d, next) {
				if strings.HasSuffix(title, "version") {
					out[dayKey(d)+"|"+version(s)]++
				} else {
					out[dayKey(d)+"|"+s.OS]++
				}
			}
		})
	case "Daily installs per command":
		days(func(d, next time.Time) {
			for p, n := range tr.InstallsPerCommand(d, next) {
				if chosen(p) && n > 0 {
					out[dayKey(d)+"|"+p] = float64(n)
				}
			}
		})
	case "Invocations per exit code":
		days(func(d, next time.Time) {
			per := tr.RunsBy(d, next, func(c *simweek.Counted) string {
				if !chosen(c.Path) {
					return ""
				}
				return fmt.Sprint(c.ExitCode)
			})
			for k, n := range per {
				out[dayKey(d)+"|"+k] = float64(n)
			}
		})
	case "Invocations per command in the range":
		for p, n := range tr.RunsPerCommand(from, to) {
			if chosen(p) && n > 0 {
				out[p] = float64(n)
			}
		}
	case "Failure rate per command per bar":
		days(func(d, next time.Time) {
			rate(tr.FailingPerCommand(d, next), tr.RunsPerCommand(d, next), dayKey(d)+"|")
		})
	case "Daily active installs":
		days(func(d, next time.Time) {
			if n := tr.Installs(d, next); n > 0 {
				out[dayKey(d)] = float64(n)
			}
		})
	case "Weekly active installs", "Monthly active installs":
		w := 7
		if strings.HasPrefix(title, "Monthly") {
			w = 30
		}
		days(func(d, next time.Time) { out[dayKey(d)] = float64(tr.Installs(next.AddDate(0, 0, -w), next)) })
	case "Week-over-week retention":
		// ISO weeks (Monday, UTC) starting in the range.
		first := from
		for first.Weekday() != time.Monday {
			first = first.AddDate(0, 0, 1)
		}
		for w := first; w.Before(to); w = w.AddDate(0, 0, 7) {
			prev, cur := tr.IDs(w.AddDate(0, 0, -7), w), tr.IDs(w, w.AddDate(0, 0, 7))
			if len(prev) == 0 {
				continue
			}
			kept := 0
			for id := range prev {
				if _, ok := cur[id]; ok {
					kept++
				}
			}
			out[dayKey(w)] = 100 * float64(kept) / float64(len(prev))
		}
	default:
		return nil
	}
	return out
}

func TestDashboardAgainstTruth(t *testing.T) {
	r := newRig(t)
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday
	week := simweek.Simulate(simweek.Config{Seed: 20261125, Start: start, Days: 14, Installs: 30, NewInstalls: 8})
	postAll(t, r, week)
	c := r.conn(t)
	panels, cmdQuery := readDashboard(t)
	titles := map[string]bool{}
	for _, p := range panels {
		titles[p.Title] = true
	}
	for _, want := range []string{"Unique installs", "Invocations per command", "Failure rate per command", "Installs per CLI version",
		"Installs per operating system", "Invocations per exit code", "Invocations per command in the range", "Failure rate per command per bar",
		"Daily active installs", "Weekly active installs", "Monthly active installs", "Week-over-week retention"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
	rows, err := c.Query(context.Background(), cmdQuery)
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 3 {
		t.Fatalf("the command variable lists %v", all)
	}
	ranges := []struct {
		name     string
		from, to time.Time
	}{
		{"fortnight", start, start.AddDate(0, 0, 14)},
		{"week 2", start.AddDate(0, 0, 7), start.AddDate(0, 0, 14)},
		{"day 3", start.AddDate(0, 0, 2), start.AddDate(0, 0, 3)},
		{"days 4-10, mid-day bounds", start.AddDate(0, 0, 3).Add(-7 * time.Hour), start.AddDate(0, 0, 10).Add(-30 * time.Minute)},
	}
	checked := 0
	for _, rg := range ranges {
		// Grafana's day filter counts the days whose midnight is in the range.
		from, to := ceilDay(rg.from), ceilDay(rg.to)
		for _, cmds := range [][]string{all, all[:2]} {
			for _, p := range panels {
				if p.Title == healthPanel {
					continue // the receiver's own figures: TestAbusiveSourceMovesNoFigureBeyondTheBounds
				}
				if slices.Contains(releasePanels, p.Title) {
					continue // TestReleasePanelsAgainstTruth
				}
				if slices.Contains(crashPanels, p.Title) {
					continue // TestCrashPanelsAgainstTruth, on a week with a crash
				}
				exp := expected(p.Title, week.Truth, from, to, cmds)
				if exp == nil {
					t.Errorf("panel %q: no truth to compare it with", p.Title)
					continue
				}
				got := query(t, c, grafanaSQL(p.Targets[0].RawSQL, rg.from, rg.to, cmds))
				got = normVersions(p.Title, got)
				if !same(got, exp) {
					t.Errorf("%s, %d commands, %q:\n got  %v\n want %v", rg.name, len(cmds), p.Title, got, exp)
				}
				checked++
			}
		}
	}
	t.Logf("%d uploads, %d panel queries compared with the truth", len(week.Uploads), checked)
}

// postAll sends the week's uploads through the real handler, its clock
// set to each upload's time.
func postAll(t *testing.T, r *rig, week *simweek.Week) {
	t.Helper()
	for _, u := range week.Uploads {
		r.at(u.At)
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(u.Body())))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		r.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("upload at %v answered %d: %s", u.At, w.Code, w.Body)
		}
	}
}

// normVersions compares versions with or without their "v".
func normVersions(title string, got map[string]float64) map[string]float64 {
	if title != "Installs per CLI version" && title != "Daily active installs per CLI version" {
		return got
	}
	norm := map[string]float64{}
	for k, v := range got {
		day, ver, ok := strings.Cut(k, "|")
		if ok {
			norm[day+"|"+strings.TrimPrefix(ver, "v")] += v
		} else {
			norm[strings.TrimPrefix(k, "v")] += v
		}
	}
	return norm
}

func ceilDay(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	if d.Before(t) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

func same(got, want map[string]float64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			return false
		}
	}
	return true
}
