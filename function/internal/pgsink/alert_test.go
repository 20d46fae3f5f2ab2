package pgsink_test

// The alert rule of function/dashboards/alerts/receiver-health.yaml: its
// query, run on a real PostgreSQL filled through the real handler, with
// Grafana's threshold applied, must fire for an hour with more than 5 %
// of uploads refused and stay quiet for every hour of a clean simulated
// fleet, and for an hour just under the threshold.

import (
	"cmp"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/function/internal/simweek"
)

// alertRule is the part of Grafana's alert-rule provisioning format the
// tests of function/dashboards/alerts read.
type alertRule struct {
	APIVersion int `yaml:"apiVersion"`
	Groups     []struct {
		OrgID    int    `yaml:"orgId"`
		Name     string `yaml:"name"`
		Folder   string `yaml:"folder"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			UID       string `yaml:"uid"`
			Title     string `yaml:"title"`
			Condition string `yaml:"condition"`
			Data      []struct {
				RefID             string `yaml:"refId"`
				DatasourceUID     string `yaml:"datasourceUid"`
				RelativeTimeRange struct {
					From int `yaml:"from"`
					To   int `yaml:"to"`
				} `yaml:"relativeTimeRange"`
				Model struct {
					RefID      string `yaml:"refId"`
					RawSQL     string `yaml:"rawSql"`
					Format     string `yaml:"format"`
					Type       string `yaml:"type"`
					Expression string `yaml:"expression"`
					Conditions []struct {
						Evaluator struct {
							Type   string    `yaml:"type"`
							Params []float64 `yaml:"params"`
						} `yaml:"evaluator"`
					} `yaml:"conditions"`
				} `yaml:"model"`
			} `yaml:"data"`
			For          string            `yaml:"for"`
			NoDataState  string            `yaml:"noDataState"`
			ExecErrState string            `yaml:"execErrState"`
			Annotations  map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// readAlertRule reads function/dashboards/alerts/<name>, which must hold
// one group of one rule in provisioning format version 1.
func readAlertRule(t *testing.T, name string) alertRule {
	t.Helper()
	b, err := os.ReadFile("../../dashboards/alerts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f alertRule
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.APIVersion != 1 || len(f.Groups) != 1 || len(f.Groups[0].Rules) != 1 {
		t.Fatalf("%s: want apiVersion 1 and one group of one rule: %+v", name, f)
	}
	return f
}

// readAlert returns the rule's SQL and its threshold, checking the
// provisioning format's required fields.
func readAlert(t *testing.T) (sql string, over float64) {
	f := readAlertRule(t, "receiver-health.yaml")
	g := f.Groups[0]
	r := g.Rules[0]
	if g.OrgID == 0 || g.Name == "" || g.Folder == "" || g.Interval == "" || r.UID == "" || r.Title == "" || r.For == "" || r.NoDataState != "OK" || r.ExecErrState == "" {
		t.Fatalf("a required field is missing: %+v", g)
	}
	var a, c bool
	for _, d := range r.Data {
		switch {
		case d.RefID == "A" && d.DatasourceUID != "__expr__":
			sql, a = d.Model.RawSQL, d.Model.Format == "table"
		case d.RefID == r.Condition && d.DatasourceUID == "__expr__" && d.Model.Type == "threshold" && d.Model.Expression == "A" &&
			len(d.Model.Conditions) == 1 && d.Model.Conditions[0].Evaluator.Type == "gt":
			over, c = d.Model.Conditions[0].Evaluator.Params[0], true
		}
	}
	if !a || !c || sql == "" {
		t.Fatalf("want query A (a table) and condition %s, a threshold over A: %+v", r.Condition, r.Data)
	}
	return sql, over
}

// fires evaluates the rule as Grafana would at `at`: the query (now() set
// to at), no row being no data (OK), else its value over the threshold.
func fires(t *testing.T, c *pgx.Conn, sql string, over float64, at time.Time) (bool, float64) {
	t.Helper()
	q := strings.ReplaceAll(sql, "now()", "'"+at.UTC().Format(time.RFC3339)+"'::timestamptz")
	var v float64
	err := c.QueryRow(context.Background(), q).Scan(&v)
	if err == pgx.ErrNoRows {
		return false, 0
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return v > over, v
}

func TestReceiverHealthAlert(t *testing.T) {
	sql, over := readAlert(t)
	if over != 5 {
		t.Fatalf("threshold %v, want 5 (%%)", over)
	}
	r := newRig(t)
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	week := simweek.Simulate(simweek.Config{Seed: 5, Start: start, Days: 5, Installs: 60})
	perHour := map[time.Time]int{}
	for _, u := range week.Uploads {
		r.at(u.At)
		if w := r.send(string(u.Body()), fleetAddr(u.Install)); w.Code != 200 {
			t.Fatalf("upload at %v: %d %s", u.At, w.Code, w.Body)
		}
		perHour[u.At.Truncate(time.Hour)]++
	}
	c := r.conn(t)
	// The clean fleet: quiet at every evaluation of the week.
	judged := 0
	for at := start; at.Before(week.End); at = at.Add(15 * time.Minute) {
		if f, v := fires(t, c, sql, over, at); f {
			t.Fatalf("fired at %v on a clean fleet (%.1f %%)", at, v)
		} else if perHour[at.Truncate(time.Hour).Add(-time.Hour)] >= 20 {
			judged++
		}
	}
	if judged < 150 {
		t.Fatalf("only %d evaluations had an hour of at least 20 uploads to judge", judged)
	}
	// Two of the busiest hours: in one, refusals just under 5 %; in the
	// other, just over.
	var busy []time.Time
	for h := range perHour {
		if h.After(start) {
			busy = append(busy, h)
		}
	}
	slices.SortFunc(busy, func(a, b time.Time) int { return cmp.Or(perHour[b]-perHour[a], a.Compare(b)) })
	if perHour[busy[1]] < 25 {
		t.Fatalf("no two hours of 25 uploads")
	}
	under, overH := busy[0], busy[1]
	refuse := func(h time.Time, n int) {
		for i := range n {
			r.at(h.Add(time.Duration(i) * time.Second))
			if w := r.send(`{"id":"x"`, "192.0.2.77"); w.Code != 400 {
				t.Fatalf("a bad body: %d", w.Code)
			}
		}
	}
	// k refused of n+k: under 5 % is k < n/19.
	kUnder := (perHour[under] - 1) / 19
	kOver := perHour[overH]/19 + 1
	refuse(under, kUnder)
	refuse(overH, kOver)
	if f, v := fires(t, c, sql, over, under.Add(time.Hour+time.Minute)); f {
		t.Errorf("fired for %d refused of %d (%.2f %%)", kUnder, perHour[under]+kUnder, v)
	}
	f, v := fires(t, c, sql, over, overH.Add(time.Hour+time.Minute))
	if !f {
		t.Errorf("quiet for %d refused of %d (%.2f %%)", kOver, perHour[overH]+kOver, v)
	}
	// The hour after, judged on its own, is quiet again.
	if f, _ := fires(t, c, sql, over, overH.Add(2*time.Hour+time.Minute)); f && perHour[overH.Add(time.Hour)] > 0 {
		t.Errorf("still firing an hour later")
	}
	t.Logf("clean fleet: quiet at all %d evaluations of 5 days (%d judged); %d of %d refused: quiet; %d of %d refused (%.2f %%): fires",
		int(week.End.Sub(start)/(15*time.Minute)), judged, kUnder, perHour[under]+kUnder, kOver, perHour[overH]+kOver, v)
}
