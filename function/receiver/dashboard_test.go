package receiver

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/graphite"
)

// writtenTags returns the tag names the receiver really writes, taken from
// a transform of the deepest possible path with the id tag on.
func writtenTags(t *testing.T) map[string]bool {
	t.Helper()
	tags := map[string]bool{}
	for _, name := range graphite.TagNames() { // tested against Convert in package graphite
		tags[name] = true
	}
	return tags
}

var (
	quoted    = regexp.MustCompile(`'([^']*)'`)
	tagExpr   = regexp.MustCompile(`^([A-Za-z0-9_]+)(!=~|=~|!=|=)(.*)$`)
	tagValues = regexp.MustCompile(`^tag_values\((\w+)((?:,\s*[^,()]+)*)\)$`)
	// Aggregation callbacks of groupByTags; every other quoted word is a tag.
	callbacks  = map[string]bool{"sum": true, "max": true, "min": true, "avg": true, "average": true, "count": true, "median": true, "last": true}
	identifier = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

func TestDashboardQueriesOnlyWrittenTags(t *testing.T) {
	d := dashboards.MustLoad(dashboards.Graphite)
	written := writtenTags(t)
	queried := map[string]bool{}
	check := func(where, tag string) {
		queried[tag] = true
		if tag != "name" && !written[tag] {
			t.Errorf("%s: queries tag %q, which the receiver never writes", where, tag)
		}
	}
	targets := 0
	for _, p := range d.Panels {
		if p.Title == healthPanel {
			continue // its own series: TestHealthPanels
		}
		if p.Datasource.Type != "graphite" {
			t.Errorf("panel %q: data source %q, want graphite", p.Title, p.Datasource.Type)
		}
		for _, tg := range p.Targets {
			targets++
			if !strings.Contains(tg.Target, "seriesByTag(") {
				t.Errorf("panel %q: %q does not use seriesByTag", p.Title, tg.Target)
			}
			for _, m := range quoted.FindAllStringSubmatch(tg.Target, -1) {
				arg := m[1]
				if e := tagExpr.FindStringSubmatch(arg); e != nil {
					check(p.Title, e[1])
					if e[1] == "name" && e[3] != graphite.MetricName {
						t.Errorf("panel %q: name=%q, want %q", p.Title, e[3], graphite.MetricName)
					}
				} else if identifier.MatchString(arg) && !callbacks[arg] {
					// Other quoted arguments are intervals, regexps and
					// replacements, not tags.
					check(p.Title, arg)
				}
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue // the data source (TestDashboardsProvisionable) and the lookback
		}
		query, _ := v.Query.(string)
		m := tagValues.FindStringSubmatch(query)
		if m == nil || v.Datasource == nil || v.Datasource.Type != "graphite" {
			t.Errorf("variable %q: query %q is not tag_values(tag, ...) on graphite", v.Name, v.Query)
			continue
		}
		check("variable "+v.Name, m[1])
		if !strings.Contains(m[2], "name="+graphite.MetricName) {
			t.Errorf("variable %q: %q does not select %s", v.Name, query, graphite.MetricName)
		}
	}
	if targets < 5 {
		t.Errorf("dashboard has %d queries, want at least 5 panels' worth", targets)
	}
	// What the issue asks to see: installs, commands, failures, versions, OSes.
	for _, tag := range []string{"name", graphite.TagID, graphite.TagCommand, graphite.TagExitCode, graphite.TagVersion, graphite.TagOS} {
		if !queried[tag] {
			t.Errorf("dashboard never queries tag %q", tag)
		}
	}
}

// Every dashboard can be provisioned from files or the HTTP API: every
// panel and query reads its data source from the datasource variable (no
// __inputs to fill in by hand), and the command variable filters every
// panel that shows commands.
// allCommandPanels show the whole allow-list or the whole fleet's runs by
// design, so the command variable (the commands that ran) does not filter
// them: "Unused commands" lists those no install ran, which the variable
// never holds; "Rarely used commands" is a share of all runs.
var allCommandPanels = []string{"Unused commands", "Rarely used commands"}

func TestDashboardsProvisionable(t *testing.T) {
	for _, c := range []struct{ file, dsType, queryField, commandFilter string }{
		{dashboards.Graphite, "graphite", "target", "${command:regex}"},
		{dashboards.Prometheus, "prometheus", "expr", "${command:regex}"},
		{dashboards.Postgres, "grafana-postgresql-datasource", "rawSql", "$command"},
	} {
		d := dashboards.MustLoad(c.file)
		if len(d.Inputs) > 0 {
			t.Errorf("%s: __inputs need an import by hand", c.file)
		}
		hasDS := false
		for _, v := range d.Templating.List {
			if v.Type == "datasource" && v.Name == "datasource" && v.Query == c.dsType {
				hasDS = true
			}
			if v.Datasource != nil && v.Datasource.UID != "${datasource}" {
				t.Errorf("%s: variable %q reads data source %q", c.file, v.Name, v.Datasource.UID)
			}
		}
		if !hasDS {
			t.Errorf("%s: no datasource variable of type %s", c.file, c.dsType)
		}
		for _, p := range d.Panels {
			if p.Datasource.Type != c.dsType || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: panel %q: data source %+v", c.file, p.Title, p.Datasource)
			}
			for _, tg := range p.Targets {
				q, _ := tg.Raw[c.queryField].(string)
				ds, _ := tg.Raw["datasource"].(map[string]any)
				if ds["uid"] != "${datasource}" {
					t.Errorf("%s: panel %q: target data source %v", c.file, p.Title, ds)
				}
				showsCommands := (strings.Contains(p.Title, "command") || strings.Contains(p.Title, "exit code")) && !slices.Contains(allCommandPanels, p.Title)
				if showsCommands != strings.Contains(q, c.commandFilter) {
					t.Errorf("%s: panel %q: shows commands %v, filtered by the command variable %v", c.file, p.Title, showsCommands, !showsCommands)
				}
			}
		}
	}
}
