package fleetbench

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/grafanasql"
)

// Query is one rawSql target of a panel.
type Query struct {
	Panel string // the panel's title, with the target's refId when it has several
	SQL   string
}

// Dashboard is what the benchmark reads from a dashboard's JSON.
type Dashboard struct {
	Queries  []Query
	From, To string // its default range, in Grafana's relative syntax
	vars     []dashboards.Variable
}

// ReadDashboard reads every rawSql target, the default range and the
// variables of a Grafana dashboard file.
func ReadDashboard(file string) (*Dashboard, error) {
	d, err := dashboards.Read(file)
	if err != nil {
		return nil, err
	}
	out := &Dashboard{From: d.Time.From, To: d.Time.To, vars: d.Templating.List}
	var walk func([]dashboards.Panel)
	walk = func(ps []dashboards.Panel) {
		for _, p := range ps {
			n := 0
			for _, t := range p.Targets {
				if strings.TrimSpace(t.RawSQL) != "" {
					n++
				}
			}
			for _, t := range p.Targets {
				if strings.TrimSpace(t.RawSQL) == "" {
					continue
				}
				name := p.Title
				if n > 1 {
					name += " [" + t.RefID + "]"
				}
				out.Queries = append(out.Queries, Query{Panel: name, SQL: t.RawSQL})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if len(out.Queries) == 0 {
		return nil, fmt.Errorf("%s: no panel has a rawSql query", file)
	}
	return out, nil
}

// Range resolves the dashboard's default range at now, as Grafana does:
// "now-30d/d" is the start of the day 30 days ago, and "/d" in the range's
// end rounds up to the end of the day.
func (d *Dashboard) Range(now time.Time) (from, to time.Time, err error) {
	if from, err = relative(d.From, now, false); err != nil {
		return
	}
	to, err = relative(d.To, now, true)
	return
}

var relTime = regexp.MustCompile(`^now(?:([+-])(\d+)([smhdw]))?(?:/([smhdw]))?$`)

func relative(s string, now time.Time, end bool) (time.Time, error) {
	m := relTime.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("time %q: only now, now-N<unit> and /<unit> (s, m, h, d, w) are understood", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}
	t := now.UTC()
	if m[1] != "" {
		n, _ := strconv.Atoi(m[2])
		d := time.Duration(n) * unit[m[3]]
		if m[1] == "-" {
			d = -d
		}
		t = t.Add(d)
	}
	if m[4] != "" {
		var start time.Time
		switch m[4] {
		case "d":
			start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		case "w": // Grafana's weeks start on Monday by default for ISO locales
			start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
			start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
		default:
			start = t.Truncate(unit[m[4]])
		}
		t = start
		if end {
			size := unit[m[4]]
			t = start.Add(size - time.Millisecond)
		}
	}
	return t, nil
}

// Vars resolves each variable to its default, formatted as Grafana
// interpolates it into SQL: "All" (or a multi-value selection) as quoted
// literals of every value, which a query variable gets by running its
// query; a single value as is.
func (d *Dashboard) Vars(ctx context.Context, c *pgx.Conn, from, to time.Time) (map[string]string, error) {
	vars := map[string]string{}
	for _, v := range d.vars {
		if v.Type == "datasource" {
			continue
		}
		var values []string
		switch x := v.Current.Value.(type) {
		case string:
			values = []string{x}
		case []any:
			for _, e := range x {
				values = append(values, fmt.Sprint(e))
			}
		}
		query := v.QueryText()
		all := len(values) == 0 || slices.Contains(values, "$__all")
		if all && v.IncludeAll && v.AllValue != "" {
			vars[v.Name] = v.AllValue
			continue
		}
		if all || (len(values) == 1 && values[0] == "") {
			var opts []string
			switch v.Type {
			case "query":
				rows, err := c.Query(ctx, grafanasql.Expand(query, from, to, vars))
				if err != nil {
					return nil, fmt.Errorf("variable %s: %v", v.Name, err)
				}
				for rows.Next() {
					vals, err := rows.Values()
					if err != nil {
						return nil, err
					}
					opts = append(opts, fmt.Sprint(vals[0]))
				}
				if err := rows.Err(); err != nil {
					return nil, fmt.Errorf("variable %s: %v", v.Name, err)
				}
			case "custom":
				for _, o := range strings.Split(query, ",") {
					opts = append(opts, strings.TrimSpace(o))
				}
			default: // constant, textbox, interval: the query is the value
				opts = []string{query}
			}
			if !all || !v.IncludeAll {
				opts = opts[:min(1, len(opts))] // no All: Grafana selects the first
			}
			values = opts
		}
		if v.Multi || v.IncludeAll {
			vars[v.Name] = grafanasql.Quote(values)
		} else if len(values) > 0 {
			vars[v.Name] = values[0]
		}
	}
	return vars, nil
}

// Timing is one query's times.
type Timing struct {
	Query
	Rows        int
	Median, P90 time.Duration
	Err         error
	Times       []time.Duration
	Substituted string
}

// Time runs each query, expanded for from–to and vars, once to warm the
// cache (and catch an error), then reps times, reading every row.
func Time(ctx context.Context, c *pgx.Conn, qs []Query, from, to time.Time, vars map[string]string, reps int) []Timing {
	out := make([]Timing, len(qs))
	for i, q := range qs {
		t := Timing{Query: q, Substituted: grafanasql.Expand(q.SQL, from, to, vars)}
		for r := 0; r <= reps && t.Err == nil; r++ {
			start := time.Now()
			n, err := run(ctx, c, t.Substituted)
			took := time.Since(start)
			if err != nil {
				t.Err = err
				break
			}
			t.Rows = n
			if r > 0 {
				t.Times = append(t.Times, took)
			}
		}
		if len(t.Times) > 0 {
			s := slices.Clone(t.Times)
			slices.Sort(s)
			t.Median = s[len(s)/2]
			if len(s)%2 == 0 {
				t.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
			}
			t.P90 = s[(len(s)*9+9)/10-1] // nearest rank
		}
		out[i] = t
	}
	return out
}

func run(ctx context.Context, c *pgx.Conn, sql string) (int, error) {
	rows, err := c.Query(ctx, sql)
	if err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	return n, rows.Err()
}
