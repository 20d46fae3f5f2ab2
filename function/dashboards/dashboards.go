// Package dashboards is the one reader of the Grafana dashboards in this
// folder (Graphite, Prometheus and PostgreSQL): their panels by title,
// each panel's queries, and the dashboard variables. The tests and the
// panel benchmark (function/bench/panels) read the dashboards through it
// only.
//
// The dashboards are embedded (Load), so a test in any folder reads the
// same files by name, without a path relative to itself; Read takes a
// file by path, for the benchmark, which times whatever dashboard it is
// given.
package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"os"
)

// The dashboards, by file name.
const (
	Graphite   = "pace-telemetry.json"
	Prometheus = "pace-telemetry-prometheus.json"
	Postgres   = "pace-telemetry-postgres.json"
)

//go:embed *.json
var files embed.FS

// Dashboard is what the tests and the benchmark read of a dashboard.
type Dashboard struct {
	Title  string
	Inputs []any `json:"__inputs"`
	Time   struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
	Panels []Panel `json:"panels"`
}

// Datasource is a panel's, a target's or a variable's data source.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Panel is one panel; a collapsed row holds its panels in Panels.
type Panel struct {
	Title      string     `json:"title"`
	Type       string     `json:"type"`
	Datasource Datasource `json:"datasource"`
	Options    struct {
		ReduceOptions struct {
			Calcs []string `json:"calcs"`
		} `json:"reduceOptions"`
	} `json:"options"`
	Targets []Target `json:"targets"`
	Panels  []Panel  `json:"panels"`
}

// Target is one query of a panel: Expr (PromQL), Target (Graphite) or
// RawSQL (PostgreSQL). Raw holds every field as written.
type Target struct {
	RefID      string
	Expr       string
	Target     string
	RawSQL     string
	Instant    bool
	Datasource Datasource
	Raw        map[string]any
}

func (t *Target) UnmarshalJSON(b []byte) error {
	var f struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Target     string     `json:"target"`
		RawSQL     string     `json:"rawSql"`
		Instant    bool       `json:"instant"`
		Datasource Datasource `json:"datasource"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*t = Target{RefID: f.RefID, Expr: f.Expr, Target: f.Target, RawSQL: f.RawSQL, Instant: f.Instant, Datasource: f.Datasource}
	return json.Unmarshal(b, &t.Raw)
}

// Query is the target's query, whichever the data source.
func (t Target) Query() string { return t.Expr + t.Target + t.RawSQL }

// Variable is one dashboard variable.
type Variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Query      any         `json:"query"` // a string, or an object with the query in "query"
	Datasource *Datasource `json:"datasource"`
	Multi      bool        `json:"multi"`
	IncludeAll bool        `json:"includeAll"`
	AllValue   string      `json:"allValue"`
	Current    struct {
		Value any `json:"value"` // a string, or a list for a multi-value one
	} `json:"current"`
	Options []struct {
		Value string `json:"value"`
	} `json:"options"`
}

// QueryText is the variable's query, written as a string or in an object.
func (v Variable) QueryText() string {
	if m, ok := v.Query.(map[string]any); ok {
		s, _ := m["query"].(string)
		return s
	}
	s, _ := v.Query.(string)
	return s
}

// Load reads one of the embedded dashboards by name (Graphite,
// Prometheus, Postgres).
func Load(name string) (*Dashboard, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return parse(name, b)
}

// MustLoad is Load for the dashboards this package holds, which its own
// test reads: it panics on an error.
func MustLoad(name string) *Dashboard {
	d, err := Load(name)
	if err != nil {
		panic(err)
	}
	return d
}

// Read reads a dashboard file by path.
func Read(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, b)
}

func parse(name string, b []byte) (*Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &d, nil
}

// Panel returns the panel of that title, in a collapsed row too, or nil.
func (d *Dashboard) Panel(title string) *Panel {
	var find func([]Panel) *Panel
	find = func(ps []Panel) *Panel {
		for i := range ps {
			if ps[i].Title == title {
				return &ps[i]
			}
			if p := find(ps[i].Panels); p != nil {
				return p
			}
		}
		return nil
	}
	return find(d.Panels)
}

// Titles returns the top-level panels' titles, in order.
func (d *Dashboard) Titles() []string {
	var titles []string
	for _, p := range d.Panels {
		titles = append(titles, p.Title)
	}
	return titles
}

// Variable returns the variable of that name, or nil.
func (d *Dashboard) Variable(name string) *Variable {
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}
