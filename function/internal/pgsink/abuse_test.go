package pgsink_test

// The replay of issue 21: the simulated fleet, each install on its own
// address, plus one abusive address that invents thousands of install ids
// with maximal counts, resends and sends out of order, all through the
// real handler into a real PostgreSQL. Every panel of the PostgreSQL
// dashboard must then show exactly the fleet's truth plus what the bounds
// let that one address add, which a model built from the bounds' rules
// (not from the sink) predicts, and which must stay within
// NewInstallsPerSource installs a day, each adding at most MaxDailyRuns.
//
// Also here: 200 installs behind one NAT address are all counted, those
// over the day's bound one day later.

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/internal/simweek"
	"github.com/pace-cli/pace/function/receiver"
)

const abuser = "203.0.113.66"

// healthPanel is the PostgreSQL dashboard's panel of receiver_health.
const healthPanel = "Receiver health"

// fleetAddr gives each simulated machine its own address.
func fleetAddr(install int) string {
	return fmt.Sprintf("10.%d.%d.%d", 1+install/65536, install/256%256, install%256)
}

func TestAbusiveSourceMovesNoFigureBeyondTheBounds(t *testing.T) {
	const (
		N = pgsink.DefaultNewInstallsPerSource
		B = pgsink.DefaultMaxDailyRuns
	)
	r := newRig(t)
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday
	week := simweek.Simulate(simweek.Config{Seed: 2112, Start: start, Days: 7, Installs: 30, NewInstalls: 8})

	// The rarest command of the fleet's week: the smallest panel figure.
	perCmd := week.Truth.RunsPerCommand(start, week.End)
	rare := ""
	for p, n := range perCmd {
		if n > 0 && (rare == "" || n < perCmd[rare] || n == perCmd[rare] && p < rare) {
			rare = p
		}
	}
	const top = "pace list tables"
	const max32 = 4294967295

	// model is what the abuser may add by the bounds' rules: each install
	// new that day from the address, up to N, and each of its uploads
	// counted up to B a day, allotted in (path, exit code) order.
	model := &simweek.Truth{}
	type state struct {
		counts  map[simweek.Key]uint64
		day     time.Time
		counted uint64
	}
	known := map[string]*state{}
	newToday := map[time.Time]int{}
	health := map[string]float64{} // the health panel's truth: "day|outcome" -> uploads
	note := func(at time.Time, outcome string) { health[dayKey(at.Truncate(24*time.Hour))+"|"+outcome]++ }
	abuse := 0
	send := func(t *testing.T, at time.Time, id string, c map[simweek.Key]uint64, wantCode int) {
		t.Helper()
		abuse++
		r.at(at)
		m := map[string]map[int]uint64{}
		for k, n := range c {
			if m[k.Path] == nil {
				m[k.Path] = map[int]uint64{}
			}
			m[k.Path][k.ExitCode] = n
		}
		w := r.send(body(id, "v1.25.0", "linux", m), abuser)
		day := at.Truncate(24 * time.Hour)
		st := known[id]
		code := http.StatusOK
		if st == nil {
			if newToday[day] >= N {
				code = http.StatusTooManyRequests
			} else {
				newToday[day]++
				st = &state{counts: map[simweek.Key]uint64{}}
				known[id] = st
			}
		}
		if w.Code != code || code != wantCode && wantCode != 0 {
			t.Fatalf("abusive upload %d (%s): answered %d %s; the model says %d", abuse, id, w.Code, w.Body, code)
		}
		if code != http.StatusOK {
			note(at, "rate_limited (new_installs)")
			return
		}
		note(at, "accepted")
		model.Seen = append(model.Seen, simweek.Seen{At: at, ID: id, Version: "v1.25.0", OS: "linux"})
		if !st.day.Equal(day) {
			st.day, st.counted = day, 0
		}
		keys := make([]simweek.Key, 0, len(c))
		smaller, larger := false, false
		for k, n := range c {
			keys = append(keys, k)
			if old, ok := st.counts[k]; n > old || !ok && n > 0 {
				larger = true
			} else if n < old {
				smaller = true
			}
		}
		if !larger {
			return // a resend or an older upload: nothing
		}
		slices.SortFunc(keys, func(a, b simweek.Key) int {
			return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.ExitCode, b.ExitCode))
		})
		cut := false
		for _, k := range keys {
			inc := c[k] - st.counts[k]
			if c[k] < st.counts[k] {
				inc = c[k]
			}
			take := min(inc, B-st.counted)
			cut = cut || take < inc
			st.counted += take
			if take > 0 {
				model.Counted = append(model.Counted, simweek.Counted{At: at, ID: id, Version: "v1.25.0", OS: "linux", Path: k.Path, ExitCode: k.ExitCode, Runs: take})
			}
		}
		if cut {
			note(at, "clamped (daily_runs)")
		}
		if smaller {
			st.counts = map[simweek.Key]uint64{}
		}
		for k, n := range c {
			st.counts[k] = n
		}
	}
	invented := func(i int) string { return fmt.Sprintf("ab05e000-0000-4000-8000-%012d", i) }
	first := map[simweek.Key]uint64{{Path: rare, ExitCode: 0}: max32, {Path: top, ExitCode: 1}: max32}
	attacks := []struct {
		at time.Time
		do func(t *testing.T, at time.Time)
	}{
		// Day 2: 2,000 invented ids with maximal counts, then every one
		// resent, then older (smaller) counts of each, out of order.
		{start.AddDate(0, 0, 1).Add(13*time.Hour + 500*time.Millisecond), func(t *testing.T, at time.Time) {
			for i := range 2000 {
				send(t, at.Add(time.Duration(i)*time.Millisecond), invented(i), first, 0)
			}
			for i := range 2000 {
				send(t, at.Add(time.Duration(2000+i)*time.Millisecond), invented(i), first, 0)
			}
			for i := range N {
				send(t, at.Add(time.Duration(4000+i)*time.Millisecond), invented(i), map[simweek.Key]uint64{{Path: rare, ExitCode: 0}: 7, {Path: top, ExitCode: 1}: 9}, http.StatusOK)
			}
		}},
		// Day 4: 1,000 more invented ids, and the ids of day 2, each now
		// with a new counter at the maximum: their second day's bound.
		{start.AddDate(0, 0, 3).Add(15*time.Hour + 250*time.Millisecond), func(t *testing.T, at time.Time) {
			for i := range 1000 {
				send(t, at.Add(time.Duration(i)*time.Millisecond), invented(2000+i), first, 0)
			}
			again := map[simweek.Key]uint64{{Path: rare, ExitCode: 0}: max32, {Path: top, ExitCode: 1}: max32, {Path: "pace version", ExitCode: 0}: max32}
			for i := range N {
				send(t, at.Add(time.Duration(1000+i)*time.Millisecond), invented(i), again, http.StatusOK)
			}
		}},
	}

	next := 0
	for _, u := range week.Uploads {
		for next < len(attacks) && attacks[next].at.Before(u.At) {
			attacks[next].do(t, attacks[next].at)
			next++
		}
		r.at(u.At)
		if w := r.send(string(u.Body()), fleetAddr(u.Install)); w.Code != http.StatusOK {
			t.Fatalf("fleet upload at %v answered %d: %s", u.At, w.Code, w.Body)
		}
		note(u.At, "accepted")
	}
	if next != len(attacks) {
		t.Fatal("the attacks did not all run")
	}

	// The model is within the bounds of one address: N installs a day,
	// each at most B runs a day.
	for d := start; d.Before(week.End); d = d.AddDate(0, 0, 1) {
		ids := model.IDs(week.Start.AddDate(0, 0, -30), d.AddDate(0, 0, 1))
		if got, held := model.Total(d, d.AddDate(0, 0, 1)), uint64(len(ids))*B; got > held {
			t.Fatalf("the model adds %d runs on %v, over %d installs × %d", got, d, len(ids), B)
		}
		if newToday[d] > N {
			t.Fatalf("the model admits %d new installs on %v", newToday[d], d)
		}
	}

	// Every panel shows the fleet's truth plus the model's share, exactly.
	both := &simweek.Truth{Counted: append(slices.Clone(week.Truth.Counted), model.Counted...), Seen: append(slices.Clone(week.Truth.Seen), model.Seen...)}
	slices.SortStableFunc(both.Counted, func(a, b simweek.Counted) int { return a.At.Compare(b.At) })
	slices.SortStableFunc(both.Seen, func(a, b simweek.Seen) int { return a.At.Compare(b.At) })
	c := r.conn(t)
	panels, _ := readDashboard(t)
	commands := slices.Sorted(func(yield func(string) bool) {
		for p := range perCmd {
			if !yield(p) {
				return
			}
		}
	})
	checked := 0
	vars := dashboardVars(t)
	for _, rg := range [][2]time.Time{{start, week.End}, {start.AddDate(0, 0, 1), start.AddDate(0, 0, 2)}, {start.AddDate(0, 0, 3), start.AddDate(0, 0, 5)}} {
		for _, p := range panels {
			if len(p.Targets) == 0 || p.Targets[0].RawSQL == "" {
				continue
			}
			if slices.Contains(releasePanels, p.Title) {
				// The release panels: the truth of fleet and model together.
				tr := &releaseTruth{tr: both, from: rg[0], to: rg[1], vars: vars, allow: receiver.Commands()}
				wantCols, want := tr.want(p.Title, commands)
				cols, got := table(t, c, withVars(grafanaSQL(p.Targets[0].RawSQL, rg[0], rg[1], commands), vars))
				if !slices.Equal(cols, wantCols) || !sameRows(got, want, 1e-6) {
					t.Errorf("%v–%v %q:\n got  %v\n want %v", rg[0], rg[1], p.Title, got, want)
				}
				checked++
				continue
			}
			exp := expected(p.Title, both, rg[0], rg[1], commands)
			if p.Title == healthPanel {
				exp = map[string]float64{}
				for k, v := range health {
					if d, _ := strconv.ParseInt(k[:strings.Index(k, "|")], 10, 64); d >= rg[0].Unix() && d < rg[1].Unix() {
						exp[k] = v
					}
				}
			}
			if exp == nil {
				continue // a panel of another issue, proved by its own test
			}
			got := query(t, c, grafanaSQL(p.Targets[0].RawSQL, rg[0], rg[1], commands))
			got = normVersions(p.Title, got)
			if !same(got, exp) {
				t.Errorf("%v–%v %q:\n got  %v\n want %v", rg[0], rg[1], p.Title, got, exp)
			}
			checked++
		}
	}
	// What the bounded share moved on the release panels, over the week.
	var moved []string
	for _, title := range releasePanels {
		alone := &releaseTruth{tr: week.Truth, from: start, to: week.End, vars: vars, allow: receiver.Commands()}
		with := &releaseTruth{tr: both, from: start, to: week.End, vars: vars, allow: receiver.Commands()}
		_, a := alone.want(title, commands)
		_, w := with.want(title, commands)
		if !sameRows(a, w, 1e-9) {
			moved = append(moved, fmt.Sprintf("%s: %v -> %v", title, trimRows(a), trimRows(w)))
		}
	}
	t.Logf("release panels the abuser's bounded share moved:\n%s", strings.Join(moved, "\n"))
	if checked != 3*25 {
		t.Fatalf("only %d panel queries compared", checked)
	}
	week2 := [2]time.Time{start, week.End}
	h := r.health(t)
	t.Logf("%d fleet uploads, %d abusive ones (%d new installs admitted of 3000 invented); %d panel queries equal the truth plus the bounded share",
		len(week.Uploads), abuse, len(known), checked)
	t.Logf("bounds: %d new installs per address a day, %d runs per install a day: one address adds at most %d runs to a figure on its first day",
		N, B, N*B)
	t.Logf("the rarest command %q: %d runs by the fleet in the week, %d added by the abuser; unique installs %d, +%d",
		rare, perCmd[rare], model.RunsPerCommand(week2[0], week2[1])[rare], week.Truth.Installs(week2[0], week2[1]), model.Installs(week2[0], week2[1]))
	t.Logf("receiver_health: %v", h)
	if h["rate_limited/new_installs"][0] != int64(2000-N+2000-N+1000-N) || h["clamped/daily_runs"][0] < int64(2*N) {
		t.Errorf("receiver_health %v: want %d uploads rate limited and at least %d clamped", h, 2000-N+2000-N+1000-N, 2*N)
	}
}

// TestNATRollout: 200 installs behind one address upload on their first
// day. With the default bound (250) all are taken; with a bound of 150, 50
// are answered 429 and retry when told to: all are counted, the 50 a day
// late, and their runs exactly.
func TestNATRollout(t *testing.T) {
	const installs, bound = 200, 150
	// With the default bound, all 200 on the day.
	def := newRig(t)
	def.at(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))
	for i := range installs {
		if w := def.send(body(fmt.Sprintf("0a7e0000-0000-4000-8000-%012d", i), "v1.25.0", "linux", counts("pace version", 0, 1)), "198.51.100.200"); w.Code != 200 {
			t.Fatalf("default bound: install %d answered %d", i, w.Code)
		}
	}
	var active int
	if err := def.conn(t).QueryRow(t.Context(), `SELECT count(*) FROM active_daily WHERE day = '2026-11-02'`).Scan(&active); err != nil || active != installs || def.runs(t)["pace version/0"] != installs {
		t.Fatalf("default bound: %d installs active (%v) and %d runs, want %d of each", active, err, def.runs(t)["pace version/0"], installs)
	}
	r := newRig(t, func(c *pgsink.Config) { c.NewInstallsPerSource = bound })
	day := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	id := func(i int) string { return fmt.Sprintf("0a7e0000-0000-4000-8000-%012d", i) }
	var wait []int
	var late time.Time
	total := uint64(0)
	for i := range installs {
		runs := uint64(1 + i%17)
		total += runs
		r.at(day.Add(time.Duration(i) * time.Minute))
		w := r.send(body(id(i), "v1.25.0", "linux", counts("pace list tables", 0, int(runs))), "198.51.100.200")
		switch w.Code {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
			if err != nil {
				t.Fatalf("429 without a Retry-After: %v", w.Header())
			}
			wait = append(wait, i)
			if at := day.Add(time.Duration(i)*time.Minute + time.Duration(secs)*time.Second); at.After(late) {
				late = at
			}
		default:
			t.Fatalf("install %d: %d %s", i, w.Code, w.Body)
		}
	}
	if len(wait) != installs-bound {
		t.Fatalf("%d installs were told to wait, want %d", len(wait), installs-bound)
	}
	// The daemons retry after Retry-After, each with one more run by then.
	r.at(late)
	for _, i := range wait {
		total++
		if w := r.send(body(id(i), "v1.25.0", "linux", counts("pace list tables", 0, 2+i%17)), "198.51.100.200"); w.Code != 200 {
			t.Fatalf("install %d on retry: %d %s", i, w.Code, w.Body)
		}
	}
	if got := r.runs(t)["pace list tables/0"]; got != int64(total) {
		t.Fatalf("runs %d, want %d: every run of the NAT counted", got, total)
	}
	var n1, n2 int
	c := r.conn(t)
	c.QueryRow(t.Context(), `SELECT count(*) FROM active_daily WHERE day = '2026-11-02'`).Scan(&n1)
	c.QueryRow(t.Context(), `SELECT count(*) FROM active_daily WHERE day = '2026-11-03'`).Scan(&n2)
	if n1 != bound || n2 != installs-bound || late.Sub(day) > 48*time.Hour {
		t.Fatalf("active installs %d on the first day and %d on the second, want %d and %d", n1, n2, bound, installs-bound)
	}
	t.Logf("%d installs behind one address, bound %d: %d counted on the day, %d the next day (after %v at most), every run counted",
		installs, bound, n1, n2, late.Sub(day).Round(time.Minute))
}

// trimRows shows at most 4 rows, for a log line.
func trimRows(rows [][]cell) string {
	if len(rows) > 4 {
		return fmt.Sprintf("%v … (%d rows)", rows[:4], len(rows))
	}
	return fmt.Sprint(rows)
}
