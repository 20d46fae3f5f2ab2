package pgsink_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/simweek"
	"github.com/pace-cli/pace/function/receiver"
)

// TestReleaseAlertRule: the rule "Regression on the newest version" is in
// Grafana's provisioning format, queries exactly the dashboard panel's SQL
// at the variables' defaults, and, evaluated as Grafana does (the query,
// then its threshold), fires on a fleet with the injected regression and
// stays quiet on a clean one.
func TestReleaseAlertRule(t *testing.T) {
	f := readAlertRule(t, "release-health.yaml")
	if f.Groups[0].OrgID != 1 || f.Groups[0].Folder == "" || f.Groups[0].Interval == "" {
		t.Fatalf("release-health.yaml: want apiVersion 1 and one group (orgId, folder, interval) of one rule: %+v", f)
	}
	rule := f.Groups[0].Rules[0]
	if rule.Title != "Regression on the newest version" || rule.UID == "" || rule.NoDataState == "" || rule.ExecErrState == "" || len(rule.Data) != 2 {
		t.Fatalf("rule %+v", rule)
	}
	query, cond := rule.Data[0], rule.Data[1]
	if rule.Condition != cond.RefID || cond.DatasourceUID != "__expr__" || cond.Model.Type != "threshold" || cond.Model.Expression != query.RefID ||
		len(cond.Model.Conditions) != 1 || cond.Model.Conditions[0].Evaluator.Type != "gt" || len(cond.Model.Conditions[0].Evaluator.Params) != 1 {
		t.Fatalf("the condition is not a threshold > x on the query: %+v", cond)
	}
	if query.RelativeTimeRange.From <= 0 || query.Model.Format != "table" {
		t.Fatalf("query %+v", query)
	}
	threshold := cond.Model.Conditions[0].Evaluator.Params[0]

	// One source: the panel's SQL at the defaults, counted.
	panels, _ := readDashboard(t)
	var panelSQL string
	for _, p := range panels {
		if p.Title == "Regressions on the newest version" {
			panelSQL = p.Targets[0].RawSQL
		}
	}
	vars := dashboardVars(t)
	if want := "SELECT count(*) AS regressions FROM (" + withVars(panelSQL, vars) + ") r"; query.Model.RawSQL != want {
		t.Fatalf("the rule's query is not the panel's at the variables' defaults:\n got  %s\n want %s", query.Model.RawSQL, want)
	}

	r := newRig(t, noBounds)
	c := r.conn(t)
	allow := map[string]bool{}
	for _, p := range receiver.Commands() {
		allow[p] = true
	}
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	for _, clean := range []bool{false, true} {
		// Evaluated at the end of the period, over the rule's range.
		var w *simweek.Week
		var from, to time.Time
		var want [][]cell
		// A clean fleet can be a false positive (about 2 % are, see
		// TestRegressionsPowerAndFalsePositives): take the first seed whose
		// truth lists nothing, so that the rule is seen staying quiet.
		for seed := uint64(424242); seed < 424252; seed++ {
			w = simweek.Simulate(simweek.Config{Seed: seed, Start: start, Days: fleetDays, Installs: fleetInstalls, NewInstalls: fleetNewInstalls, Clean: clean})
			to = w.End
			from = to.Add(-time.Duration(query.RelativeTimeRange.From) * time.Second)
			tr := &releaseTruth{tr: w.Truth, from: ceilDay(from), to: to, vars: vars}
			if _, want = tr.want("Regressions on the newest version", nil); clean == (len(want) == 0) {
				break
			}
		}
		emptyTables(t, c)
		writeFleet(t, r.sink, w, allow)
		_, rows := table(t, c, grafanaSQL(query.Model.RawSQL, from, to, nil))
		if len(rows) != 1 || len(rows[0]) != 1 {
			t.Fatalf("the rule's query answered %v, want one number", rows)
		}
		fires := rows[0][0].num > threshold
		if fires != (len(want) > 0) || fires == clean {
			t.Errorf("clean %v: the rule fires %v (%v regressions); the truth lists %v", clean, fires, rows[0][0], rowsText(want))
		}
	}
}

func rowsText(rows [][]cell) string {
	var s []string
	for _, r := range rows {
		s = append(s, fmt.Sprint(r))
	}
	return "[" + strings.Join(s, "; ") + "]"
}

// TestAlertRulesShareDataSource: an operator provisions one PostgreSQL data
// source and one folder for both rule files, so they must name the same.
func TestAlertRulesShareDataSource(t *testing.T) {
	uids, folders := map[string]bool{}, map[string]bool{}
	for _, name := range []string{"release-health.yaml", "receiver-health.yaml"} {
		g := readAlertRule(t, name).Groups[0]
		folders[g.Folder] = true
		for _, d := range g.Rules[0].Data {
			if d.DatasourceUID != "__expr__" {
				uids[d.DatasourceUID] = true
			}
		}
	}
	if len(uids) != 1 || len(folders) != 1 {
		t.Fatalf("the alert rules name data sources %v and folders %v: want one of each", uids, folders)
	}
}
