package receiver

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/promwrite"
)

const promDashboard = dashboards.Prometheus

var (
	// A matcher inside a selector's braces: label, operator, quoted value.
	promMatcher = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"`)
	promBraces  = regexp.MustCompile(`\{([^{}]*)\}`)
	// Grouping clauses: by (…), without (…), on (…), ignoring (…), group_left/right (…).
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)`)
	promMetric   = regexp.MustCompile(`\bpace_[A-Za-z0-9_:]*`)
	labelValues  = regexp.MustCompile(`^label_values\(([A-Za-z_:][A-Za-z0-9_:]*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)
	// Grafana's variables inside a query, e.g. $__interval, ${command:regex}.
	grafanaVar = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_]+`)
)

func readPromDashboard(t *testing.T) *dashboards.Dashboard {
	t.Helper()
	return dashboards.MustLoad(promDashboard)
}

// promLabelsUsed returns the label names expr matches on or groups by.
func promLabelsUsed(expr string) []string {
	expr = grafanaVar.ReplaceAllString(expr, "v") // ${command:regex} has braces
	var names []string
	for _, m := range promBraces.FindAllStringSubmatch(expr, -1) {
		for _, mm := range promMatcher.FindAllStringSubmatch(m[1], -1) {
			names = append(names, mm[1])
		}
	}
	for _, m := range promGrouping.FindAllStringSubmatch(expr, -1) {
		for _, n := range strings.Split(m[1], ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	return names
}

func TestPromDashboardQueriesOnlyWrittenLabels(t *testing.T) {
	d := readPromDashboard(t)
	written := map[string]bool{}
	for _, s := range writtenPromSeries(t) {
		for _, l := range s.Labels {
			written[l.Name] = true
		}
	}
	for _, n := range promwrite.LabelNames() {
		if !written[n] {
			t.Fatalf("PromLabelNames lists %q, which the transform does not write", n)
		}
	}
	queried := map[string]bool{}
	check := func(where, expr string) {
		metrics := promMetric.FindAllString(expr, -1)
		if len(metrics) == 0 {
			t.Errorf("%s: %q does not select %s", where, expr, promwrite.MetricName)
		}
		for _, m := range metrics {
			if m != promwrite.MetricName {
				t.Errorf("%s: metric %q, want %q", where, m, promwrite.MetricName)
			}
		}
		for _, n := range promLabelsUsed(expr) {
			queried[n] = true
			if !written[n] {
				t.Errorf("%s: uses label %q, which the sink never writes", where, n)
			}
		}
	}
	targets := 0
	for _, p := range d.Panels {
		if p.Title == healthPanel {
			continue // its own series: TestHealthPanels
		}
		if p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: data source %q, want prometheus", p.Title, p.Datasource.Type)
		}
		for _, tg := range p.Targets {
			targets++
			if tg.Datasource.Type != "prometheus" {
				t.Errorf("panel %q: target data source %q", p.Title, tg.Datasource.Type)
			}
			check("panel "+p.Title, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue // the data source and the lookback
		}
		if _, ok := v.Query.(map[string]any); !ok {
			t.Fatalf("variable %q: query %v is not an object", v.Name, v.Query)
		}
		q := struct{ Query string }{v.QueryText()}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil || v.Datasource == nil || v.Datasource.Type != "prometheus" {
			t.Errorf("variable %q: query %q is not label_values(metric, label) on prometheus", v.Name, q.Query)
			continue
		}
		check("variable "+v.Name, m[1]+`{`+m[2]+`!=""}`)
	}
	// The same panels as the Graphite dashboard, then those of release
	// health that PromQL answers exactly and Graphite does not
	// (docs/deploy.md, Release health).
	graphiteTitles := append(readGraphiteTitles(t), promOnlyPanels...)
	var titles []string
	for _, p := range d.Panels {
		titles = append(titles, p.Title)
	}
	if !slices.Equal(titles, graphiteTitles) {
		t.Errorf("panels %q, want the Graphite dashboard's %q", titles, graphiteTitles)
	}
	if targets < 5 {
		t.Errorf("dashboard has %d queries, want at least 5", targets)
	}
	for _, n := range []string{promwrite.LabelID, promwrite.LabelCommand, promwrite.LabelExitCode, promwrite.LabelVersion, promwrite.LabelOS} {
		if !queried[n] {
			t.Errorf("dashboard never uses label %q", n)
		}
	}
}

func TestPromLabelsUsed(t *testing.T) {
	got := promLabelsUsed(`100 * sum by (command, exit_code) (increase(m{cmd1=~"${command:regex}", id!=""}[$__interval])) / on (command) group_left (os) x`)
	want := []string{"cmd1", "id", "command", "exit_code", "command", "os"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// promOnlyPanels are the panels only the PromQL dashboard has, in order.
var promOnlyPanels = []string{"Installs per command"}

func readGraphiteTitles(t *testing.T) []string {
	t.Helper()
	return dashboards.MustLoad(dashboards.Graphite).Titles()
}
