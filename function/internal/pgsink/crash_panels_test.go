package pgsink_test

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/simweek"
	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/function/receiver"
)

// crashPanels are the crash panels this file checks.
var crashPanels = []string{"Crashes per command and version", "Crash sites on the newest version"}

// crashWeek is releaseWeek's fortnight, its newest release crashing
// simweek.CrashedCommand at simweek.CrashSite (or not, clean).
func crashWeek(clean bool) *simweek.Week {
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	return simweek.Simulate(simweek.Config{Seed: 20261206, Start: start, Days: 14, Installs: 40, NewInstalls: 8, Crash: true, Clean: clean})
}

// crashTruth answers the two crash panels from the simulation's records:
// every crashed run is a run with exit code payload.ExitPanic, counted for
// its upload's version, at simweek.CrashSite.
func crashTruth(r *releaseTruth, title string) (cols []string, rows [][]cell) {
	type key struct{ path, version string }
	crashes, interrupted := map[key]uint64{}, map[key]uint64{}
	installs := map[key]map[string]bool{}
	for _, c := range r.tr.Counted {
		if c.At.Before(r.from) || !c.At.Before(r.to) || c.Runs == 0 {
			continue
		}
		k := key{c.Path, c.Version}
		switch c.ExitCode {
		case payload.ExitPanic:
			crashes[k] += c.Runs
			if installs[k] == nil {
				installs[k] = map[string]bool{}
			}
			installs[k][c.ID] = true
		case payload.ExitSIGHUP, payload.ExitSIGINT, payload.ExitSIGTERM:
			interrupted[k] += c.Runs
		}
	}
	keys := make([]key, 0, len(crashes))
	for k := range crashes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(crashes[b], crashes[a]), cmp.Compare(a.path, b.path), semverCompare(a.version, b.version), cmp.Compare(a.version, b.version))
	})
	switch title {
	case "Crashes per command and version":
		for _, k := range keys {
			rows = append(rows, []cell{text(k.path), text(k.version), count(crashes[k]), count(len(installs[k])), count(interrupted[k])})
		}
		return []string{"command", "version", "crashes", "installs", "interrupted"}, rows
	case "Crash sites on the newest version":
		vs := r.versions()
		if len(vs) > 0 {
			// Only the newest version crashes: each of its sites is new.
			for _, k := range keys {
				if k.version == vs[0] {
					rows = append(rows, []cell{text(k.path), text(simweek.CrashSite), count(crashes[k]), count(len(installs[k])), text("true")})
				}
			}
		}
		return []string{"command", "site", "crashes", "installs", "new"}, rows
	}
	panic(title)
}

// TestCrashPanelsAgainstTruth: the newest release crashes one command at
// one site; both crash panels equal the truth over several ranges, the
// crash is listed as a regression (a crash is a failing run), and the
// uploads went through the real handler, crash sites and all.
func TestCrashPanelsAgainstTruth(t *testing.T) {
	r := newRig(t)
	week := crashWeek(false)
	postAll(t, r, week)
	c := r.conn(t)
	panels, _ := readDashboard(t)
	vars := dashboardVars(t)
	all := receiver.Commands()
	start := week.Start
	seen := 0
	for _, rg := range fortnightRanges(start) {
		for _, title := range crashPanels {
			p := panelByTitle(t, panels, title)
			tr := &releaseTruth{tr: week.Truth, from: ceilDay(rg.from), to: ceilDay(rg.to), vars: vars, allow: all}
			wantCols, want := crashTruth(tr, title)
			cols, got := table(t, c, withVars(grafanaSQL(p.Targets[0].RawSQL, rg.from, rg.to, all), vars))
			if !slices.Equal(cols, wantCols) {
				t.Errorf("%q: columns %v, want %v", title, cols, wantCols)
			}
			if !sameRows(got, want, 1e-9) {
				t.Errorf("%s, %q:\n got  %v\n want %v", rg.name, title, got, want)
			}
			seen += len(got)
		}
	}
	if seen == 0 {
		t.Fatal("no crash in any range: the case is not there to be seen")
	}
	// The whole fortnight: the crash is there, and a regression.
	_, sites := table(t, c, withVars(grafanaSQL(panelByTitle(t, panels, "Crash sites on the newest version").Targets[0].RawSQL, week.Start, week.End, all), vars))
	if len(sites) != 1 || sites[0][0].s != simweek.CrashedCommand || sites[0][1].s != simweek.CrashSite || sites[0][4].s != "true" {
		t.Errorf("Crash sites on the newest version: %v, want %s at %s, new", sites, simweek.CrashedCommand, simweek.CrashSite)
	}
	_, regressions := table(t, c, withVars(grafanaSQL(panelByTitle(t, panels, "Regressions on the newest version").Targets[0].RawSQL, week.Start, week.End, all), vars))
	if !slices.ContainsFunc(regressions, func(row []cell) bool { return row[0].s == simweek.CrashedCommand }) {
		t.Errorf("Regressions %v lack %s, which crashes in %d %% of its runs on the newest version", regressions, simweek.CrashedCommand, simweek.CrashPercent)
	}
}

// The alert rule is the sites panel at the variables' defaults, counting
// new sites: it fires on the crashing fleet and stays quiet on a clean one.
func TestCrashSiteAlertRule(t *testing.T) {
	f := readAlertRule(t, "crash-sites.yaml")
	rule := f.Groups[0].Rules[0]
	if rule.Title != "New crash site on the newest version" || len(rule.Data) != 2 {
		t.Fatalf("rule %+v", rule)
	}
	query, cond := rule.Data[0], rule.Data[1]
	if rule.Condition != cond.RefID || cond.Model.Type != "threshold" || cond.Model.Expression != query.RefID ||
		len(cond.Model.Conditions) != 1 || cond.Model.Conditions[0].Evaluator.Type != "gt" {
		t.Fatalf("the condition is not a threshold > x on the query: %+v", cond)
	}
	panels, _ := readDashboard(t)
	vars := dashboardVars(t)
	if want := "SELECT count(*) AS new_sites FROM (" + withVars(panelByTitle(t, panels, "Crash sites on the newest version").Targets[0].RawSQL, vars) + ") s WHERE new"; query.Model.RawSQL != want {
		t.Fatalf("the rule's query is not the panel's at the variables' defaults:\n got  %s\n want %s", query.Model.RawSQL, want)
	}
	threshold := cond.Model.Conditions[0].Evaluator.Params[0]
	for _, clean := range []bool{false, true} {
		r := newRig(t)
		w := crashWeek(clean)
		postAll(t, r, w)
		to := w.End
		from := to.Add(-time.Duration(query.RelativeTimeRange.From) * time.Second)
		_, rows := table(t, r.conn(t), grafanaSQL(query.Model.RawSQL, from, to, nil))
		if len(rows) != 1 || len(rows[0]) != 1 {
			t.Fatalf("the rule's query answered %v, want one number", rows)
		}
		if fires := rows[0][0].num > threshold; fires == clean {
			t.Errorf("clean %v: the rule fires %v (%v new sites)", clean, fires, rows[0][0])
		}
	}
}

func panelByTitle(t *testing.T, panels []dashboards.Panel, title string) dashboards.Panel {
	t.Helper()
	for _, p := range panels {
		if p.Title == title {
			return p
		}
	}
	t.Fatalf("no panel %q", title)
	return dashboards.Panel{}
}
