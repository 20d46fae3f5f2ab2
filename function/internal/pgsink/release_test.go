package pgsink_test

// The release-health panels of the PostgreSQL dashboard against the truth
// of a simulated fortnight with two releases (package simweek), and the
// regression test's false positives and power over many simulated fleets,
// each through the real sink into a real PostgreSQL.

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/internal/simweek"
	"github.com/pace-cli/pace/function/receiver"
)

// releasePanels are the release-health panels this file checks.
var releasePanels = []string{
	"Adoption of versions", "Newest version", "Failure rate per command and version",
	"Regressions on the newest version", "Improvements on the newest version",
	"Newest against previous, per command", "Installs per command",
	"Unused commands", "Rarely used commands",
}

// dashboardVars returns the defaults of the dashboard's custom variables.
func dashboardVars(t testing.TB) map[string]string {
	out := map[string]string{}
	for _, v := range dashboards.MustLoad(dashboards.Postgres).Templating.List {
		if v.Type == "custom" {
			out[v.Name] = fmt.Sprint(v.Current.Value)
		}
	}
	return out
}

// withVars substitutes the variables, as Grafana does for a single value.
func withVars(sql string, vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		sql = strings.ReplaceAll(sql, "${"+n+"}", vars[n])
		sql = strings.ReplaceAll(sql, "$"+n, vars[n])
	}
	return sql
}

// cell is one value of a result row: text, or a number.
type cell struct {
	s   string
	num float64
	isN bool
}

func (c cell) String() string {
	if c.isN {
		return strconv.FormatFloat(c.num, 'g', 12, 64)
	}
	return c.s
}

func text(s string) cell               { return cell{s: s} }
func num(f float64) cell               { return cell{num: f, isN: true} }
func count[T ~int | ~uint64](n T) cell { return num(float64(n)) }

// table runs sql and returns its rows, with their column names.
func table(t testing.TB, c *pgx.Conn, sql string) (cols []string, rows [][]cell) {
	t.Helper()
	rs, err := c.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	defer rs.Close()
	for _, f := range rs.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]cell, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case string:
				row[i] = text(x)
			case time.Time:
				row[i] = text(x.UTC().Format(time.DateOnly))
			case int64:
				row[i] = num(float64(x))
			case int32:
				row[i] = num(float64(x))
			case float64:
				row[i] = num(x)
			case bool:
				row[i] = text(strconv.FormatBool(x))
			case pgtype.Numeric:
				f, err := x.Float64Value()
				if err != nil {
					t.Fatal(err)
				}
				row[i] = num(f.Float64)
			default:
				t.Fatalf("column %s: value %T %v", cols[i], v, v)
			}
		}
		rows = append(rows, row)
	}
	if rs.Err() != nil {
		t.Fatalf("%v\n%s", rs.Err(), sql)
	}
	return cols, rows
}

// sameRows compares rows in order; numbers to tol (relative, at least
// absolute 1e-9 for small values).
func sameRows(got, want [][]cell, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j, w := range want[i] {
			g := got[i][j]
			if g.isN != w.isN || !w.isN && g.s != w.s {
				return false
			}
			if w.isN && math.Abs(g.num-w.num) > math.Max(tol*math.Abs(w.num), 1e-9) {
				return false
			}
		}
	}
	return true
}

// semverLess orders versions by semantic versioning 2.0: core numbers,
// then a pre-release before its release, pre-release identifiers compared
// numerically when numeric, else as text, fewer identifiers first.
func semverLess(a, b string) bool { return semverCompare(a, b) < 0 }

func semverCompare(a, b string) int {
	split := func(v string) (core []int, pre []string) {
		v = strings.TrimPrefix(v, "v")
		c, p, hasPre := strings.Cut(v, "-")
		for _, s := range strings.Split(c, ".") {
			n, _ := strconv.Atoi(s)
			core = append(core, n)
		}
		if hasPre {
			pre = strings.Split(p, ".")
		}
		return core, pre
	}
	ca, pa := split(a)
	cb, pb := split(b)
	if c := slices.Compare(ca, cb); c != 0 {
		return c
	}
	switch {
	case pa == nil && pb == nil:
		return 0
	case pa == nil:
		return 1
	case pb == nil:
		return -1
	}
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		switch {
		case ea == nil && eb == nil:
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
		case ea == nil:
			return -1
		case eb == nil:
			return 1
		default:
			if c := strings.Compare(pa[i], pb[i]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(pa), len(pb))
}

var semverRe = regexp.MustCompile(`^v\d+\.\d+\.\d+(-(alpha|beta|dev|rc)(\.\d+)?)?$`)

// fisherGreater is the reference one-sided Fisher exact test, in exact
// rational arithmetic: P(X >= a) for X hypergeometric with the margins of
// the table (a failing, b passing; c failing, d passing).
func fisherGreater(a, b, c, d int64) float64 {
	n, k, nn := a+b, a+c, a+b+c+d
	binom := func(n, k int64) *big.Int {
		if k < 0 || k > n {
			return new(big.Int)
		}
		return new(big.Int).Binomial(n, k)
	}
	sum := new(big.Int)
	for x := a; x <= min(n, k); x++ {
		sum.Add(sum, new(big.Int).Mul(binom(k, x), binom(nn-k, n-x)))
	}
	f, _ := new(big.Rat).SetFrac(sum, binom(nn, n)).Float64()
	return f
}

// fisherGreaterLog is the same test summed in floating point from
// math.Lgamma, for tables too large for exact arithmetic to be quick; the
// test checks it against fisherGreater.
func fisherGreaterLog(a, b, c, d int64) float64 {
	n, k, nn := a+b, a+c, a+b+c+d
	lf := func(x int64) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	base := lf(k) + lf(nn-k) + lf(n) + lf(nn-n) - lf(nn)
	sum := 0.0
	for x := a; x <= min(n, k); x++ {
		sum += math.Exp(base - lf(x) - lf(k-x) - lf(n-x) - lf(nn-k-n+x))
	}
	return min(sum, 1)
}

// fisher picks the reference for a table's size.
func fisher(a, b, c, d int64) float64 {
	if a+b+c+d <= 400 {
		return fisherGreater(a, b, c, d)
	}
	return fisherGreaterLog(a, b, c, d)
}

// wilson is the 95 % Wilson score interval of failed out of runs, in percent.
func wilson(failed, runs uint64) (low, high float64) {
	const z = 1.959963984540054
	n, p := float64(runs), float64(failed)/float64(runs)
	centre := p + z*z/(2*n)
	half := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n))
	return 100 * (centre - half) / (1 + z*z/n), 100 * (centre + half) / (1 + z*z/n)
}

// releaseTruth answers the release panels from the simulation's records.
type releaseTruth struct {
	tr       *simweek.Truth
	from, to time.Time // whole UTC days
	vars     map[string]string
	allow    []string
}

// latestPerDay returns, per day of the range, each install's latest
// upload of that day.
func (r *releaseTruth) latestPerDay() map[time.Time]map[string]simweek.Seen {
	out := map[time.Time]map[string]simweek.Seen{}
	for d := r.from; d.Before(r.to); d = d.AddDate(0, 0, 1) {
		out[d] = r.tr.IDs(d, d.AddDate(0, 0, 1))
	}
	return out
}

// versions returns the versions the comparison may use, newest first.
func (r *releaseTruth) versions() []string {
	minInstalls, _ := strconv.Atoi(r.vars["min_installs"])
	installs := map[string]map[string]bool{}
	for _, ids := range r.latestPerDay() {
		for id, s := range ids {
			if installs[s.Version] == nil {
				installs[s.Version] = map[string]bool{}
			}
			installs[s.Version][id] = true
		}
	}
	var vs []string
	for v, ids := range installs {
		switch {
		case !semverRe.MatchString(v), len(ids) < minInstalls,
			r.vars["exclude_dev"] == "yes" && v == "v0.0.0-dev",
			r.vars["exclude_prerelease"] == "yes" && strings.Contains(v, "-"):
			continue
		}
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b string) int { return semverCompare(b, a) })
	return vs
}

// perVersion is a command's runs on a version, and its install-days: the
// (install, day) pairs with a run of it, and those with a failing run.
type perVersion struct {
	runs, failed      uint64
	installs, failing map[string]bool
}

// byCommandVersion sums the range's runs per command and version.
func (r *releaseTruth) byCommandVersion() map[[2]string]*perVersion {
	out := map[[2]string]*perVersion{}
	for _, c := range r.tr.Counted {
		if c.At.Before(r.from) || !c.At.Before(r.to) {
			continue
		}
		k := [2]string{c.Path, c.Version}
		p := out[k]
		if p == nil {
			p = &perVersion{installs: map[string]bool{}, failing: map[string]bool{}}
			out[k] = p
		}
		p.runs += c.Runs
		unit := c.ID + " " + c.At.UTC().Format(time.DateOnly) // an install-day
		p.installs[unit] = true
		if c.ExitCode != 0 {
			p.failed += c.Runs
			p.failing[unit] = true
		}
	}
	return out
}

// comparison is one command run on both the newest and previous version.
type comparison struct {
	path                  string
	prev, newest          string
	pr, pf, nr, nf        uint64
	pi, pfi, ni, nfi      int
	pUp, pDown            float64 // Bonferroni-adjusted
	regression, improving bool
}

func (r *releaseTruth) compare() []comparison {
	vs := r.versions()
	if len(vs) < 2 {
		return nil
	}
	alpha, _ := strconv.ParseFloat(r.vars["alpha"], 64)
	minPoints, _ := strconv.ParseFloat(r.vars["min_points"], 64)
	minFailing, _ := strconv.ParseUint(r.vars["min_failing"], 10, 64)
	per := r.byCommandVersion()
	var out []comparison
	for k, n := range per {
		if k[1] != vs[0] {
			continue
		}
		p, ok := per[[2]string{k[0], vs[1]}]
		if !ok {
			continue
		}
		out = append(out, comparison{path: k[0], prev: vs[1], newest: vs[0],
			pr: p.runs, pf: p.failed, nr: n.runs, nf: n.failed,
			pi: len(p.installs), pfi: len(p.failing), ni: len(n.installs), nfi: len(n.failing)})
	}
	m := float64(len(out))
	for i := range out {
		c := &out[i]
		i64 := func(x uint64) int64 { return int64(x) }
		up := max(fisher(i64(c.nf), i64(c.nr-c.nf), i64(c.pf), i64(c.pr-c.pf)),
			fisher(int64(c.nfi), int64(c.ni-c.nfi), int64(c.pfi), int64(c.pi-c.pfi)))
		down := max(fisher(i64(c.nr-c.nf), i64(c.nf), i64(c.pr-c.pf), i64(c.pf)),
			fisher(int64(c.ni-c.nfi), int64(c.nfi), int64(c.pi-c.pfi), int64(c.pfi)))
		c.pUp, c.pDown = min(1, m*up), min(1, m*down)
		diff := 100*float64(c.nf)/float64(c.nr) - 100*float64(c.pf)/float64(c.pr)
		c.regression = c.nf >= minFailing && diff >= minPoints && m*up < alpha
		c.improving = c.pf >= minFailing && -diff >= minPoints && m*down < alpha
	}
	return out
}

func (c *comparison) row(p float64) []cell {
	return []cell{text(c.path), text(c.prev), count(c.pr), num(100 * float64(c.pf) / float64(c.pr)),
		text(c.newest), count(c.nr), num(100 * float64(c.nf) / float64(c.nr)), num(p)}
}

// runsPerPath returns the range's runs per command.
func (r *releaseTruth) runsPerPath() map[string]uint64 { return r.tr.RunsPerCommand(r.from, r.to) }

func (r *releaseTruth) installsPerPath() map[string]int {
	return r.tr.InstallsPerCommand(r.from, r.to)
}

// want returns a panel's expected rows and columns, in the panel's order.
func (r *releaseTruth) want(title string, commands []string) (cols []string, rows [][]cell) {
	chosen := func(p string) bool { return slices.Contains(commands, p) }
	switch title {
	case "Adoption of versions":
		cols = []string{"time", "metric", "value"}
		for d, ids := range r.latestPerDay() {
			per := map[string]int{}
			for _, s := range ids {
				per[s.Version]++
			}
			for v, n := range per {
				rows = append(rows, []cell{count(int(d.Unix())), text(v), num(100 * float64(n) / float64(len(ids)))})
			}
		}
		slices.SortFunc(rows, func(a, b []cell) int { return cmp.Or(cmp.Compare(a[0].num, b[0].num), strings.Compare(a[1].s, b[1].s)) })
	case "Newest version":
		cols = []string{"version", "first_day", "share"}
		vs := r.versions()
		if len(vs) == 0 {
			return cols, nil
		}
		v := vs[0]
		var first time.Time
		days := map[time.Time]map[string]simweek.Seen{}
		for _, s := range r.tr.Seen {
			d := s.At.UTC().Truncate(24 * time.Hour)
			if days[d] == nil {
				days[d] = map[string]simweek.Seen{}
			}
			days[d][s.ID] = s // in time order: the day's latest stays
		}
		for d, ids := range days {
			for _, s := range ids {
				if s.Version == v && (first.IsZero() || d.Before(first)) {
					first = d
				}
			}
		}
		last := r.to.AddDate(0, 0, -1)
		on, all := 0, 0
		for _, s := range r.tr.IDs(last, r.to) {
			all++
			if s.Version == v {
				on++
			}
		}
		share := 0.0
		if all > 0 {
			share = 100 * float64(on) / float64(all)
		}
		rows = [][]cell{{text(v), text(first.Format(time.DateOnly)), num(share)}}
	case "Failure rate per command and version":
		cols = []string{"command", "version", "runs", "failed", "failure_rate", "low", "high"}
		for k, p := range r.byCommandVersion() {
			if !chosen(k[0]) {
				continue
			}
			lo, hi := wilson(p.failed, p.runs)
			rows = append(rows, []cell{text(k[0]), text(k[1]), count(p.runs), count(p.failed), num(100 * float64(p.failed) / float64(p.runs)), num(lo), num(hi)})
		}
		slices.SortFunc(rows, func(a, b []cell) int {
			return cmp.Or(strings.Compare(a[0].s, b[0].s), semverCompare(a[1].s, b[1].s))
		})
	case "Regressions on the newest version", "Improvements on the newest version":
		cols = []string{"command", "previous_version", "previous_runs", "previous_failure_rate", "newest_version", "newest_runs", "newest_failure_rate", "p_value"}
		for _, c := range r.compare() {
			if title[0] == 'R' && c.regression {
				rows = append(rows, c.row(c.pUp))
			} else if title[0] == 'I' && c.improving {
				rows = append(rows, c.row(c.pDown))
			}
		}
		slices.SortFunc(rows, func(a, b []cell) int { return cmp.Or(cmp.Compare(a[7].num, b[7].num), strings.Compare(a[0].s, b[0].s)) })
	case "Newest against previous, per command":
		cols = []string{"command", "previous_version", "previous_runs", "previous_failure_rate", "newest_version", "newest_runs", "newest_failure_rate", "verdict"}
		minPoints, _ := strconv.ParseFloat(r.vars["min_points"], 64)
		minFailing, _ := strconv.ParseUint(r.vars["min_failing"], 10, 64)
		for _, c := range r.compare() {
			if !chosen(c.path) {
				continue
			}
			v := "not enough data"
			diff := 100*float64(c.nf)/float64(c.nr) - 100*float64(c.pf)/float64(c.pr)
			switch {
			case c.regression:
				v = "regression"
			case c.improving:
				v = "improvement"
			case max(c.nf, c.pf) < minFailing || math.Abs(diff) < minPoints:
				v = "no difference"
			}
			row := c.row(0)
			row[7] = text(v)
			rows = append(rows, row)
		}
		slices.SortFunc(rows, func(a, b []cell) int { return strings.Compare(a[0].s, b[0].s) })
	case "Installs per command":
		cols = []string{"command", "installs", "runs"}
		runs := r.runsPerPath()
		for p, n := range r.installsPerPath() {
			if chosen(p) {
				rows = append(rows, []cell{text(p), count(n), count(runs[p])})
			}
		}
		slices.SortFunc(rows, func(a, b []cell) int { return cmp.Or(cmp.Compare(b[1].num, a[1].num), strings.Compare(a[0].s, b[0].s)) })
	case "Unused commands":
		cols = []string{"command"}
		runs := r.runsPerPath()
		for _, p := range r.allow {
			if runs[p] == 0 {
				rows = append(rows, []cell{text(p)})
			}
		}
	case "Rarely used commands":
		cols = []string{"command", "runs", "installs"}
		runs, installs := r.runsPerPath(), r.installsPerPath()
		var total uint64
		paths := make([]string, 0, len(runs))
		for p, n := range runs {
			total += n
			paths = append(paths, p)
		}
		slices.SortFunc(paths, func(a, b string) int { return cmp.Or(cmp.Compare(runs[a], runs[b]), strings.Compare(a, b)) })
		var cum uint64
		for _, p := range paths {
			if cum += runs[p]; 100*cum > total {
				break
			}
			rows = append(rows, []cell{text(p), count(runs[p]), count(installs[p])})
		}
	default:
		return nil, nil
	}
	return cols, rows
}

// The reference Fisher test agrees with textbook values, and the SQL one
// with the reference, to 1e-6, over tables from tiny to large.
func TestFisherSQLAgainstReference(t *testing.T) {
	// Fisher's tea-tasting table: 3 of 4 cups right, P(X >= 3) = 17/70.
	if got := fisherGreater(3, 1, 1, 3); math.Abs(got-17.0/70) > 1e-15 {
		t.Fatalf("reference: tea tasting %v, want 17/70", got)
	}
	// One failing of one against one passing of one: 1/2; and a table
	// whose tested group cannot fail more: 1.
	if got := fisherGreater(1, 0, 0, 1); got != 0.5 {
		t.Fatalf("reference: %v, want 1/2", got)
	}
	if got := fisherGreater(0, 5, 0, 5); got != 1 {
		t.Fatalf("reference: %v, want 1", got)
	}
	r := newRig(t)
	c := r.conn(t)
	small := [][4]int64{{0, 0, 0, 0}, {0, 5, 0, 5}, {3, 1, 1, 3}, {10, 2, 3, 15}, {1, 0, 0, 1}, {0, 10, 10, 0}, {10, 0, 0, 10},
		{5, 95, 3, 97}, {30, 170, 20, 380}, {3, 27, 0, 40}, {12, 3, 40, 200}, {7, 0, 93, 300}}
	for i := range 40 {
		// Pseudo-random tables of up to about 700 runs.
		x := int64(i*7919 + 13)
		small = append(small, [4]int64{x % 61, (x * 31) % 301, (x * 17) % 53, (x * 53) % 307})
	}
	// Fleet-sized tables, against the floating-point reference, itself
	// checked against the exact one on the small tables.
	large := [][4]int64{{250, 750, 200, 800}, {1200, 8800, 1000, 9000}, {30000, 970000, 25000, 975000}, {10, 200000, 40, 800000}, {5000, 5000, 5000, 5000},
		// Tables whose first term (or whole tail) is below the smallest
		// double: these failed with an underflow before the sum moved to
		// the mode.
		{5000, 5000, 100, 9900}, {0, 1000000, 5000, 1000000}, {400, 600000, 9000, 400000}, {2000, 98000, 1000, 99000},
		{9000, 400000, 400, 600000}, {1, 3000000, 4000, 200}, {60000, 40000, 40000, 60000}}
	for _, tb := range append(small, large...) {
		var got float64
		if err := c.QueryRow(context.Background(), `SELECT pace_fisher_greater($1, $2, $3, $4)`, tb[0], tb[1], tb[2], tb[3]).Scan(&got); err != nil {
			t.Fatal(err)
		}
		want := fisherGreaterLog(tb[0], tb[1], tb[2], tb[3])
		if slices.Contains(small, tb) {
			exact := fisherGreater(tb[0], tb[1], tb[2], tb[3])
			if math.Abs(want-exact) > 1e-9 {
				t.Errorf("floating-point reference %v = %.12g, exact %.12g", tb, want, exact)
			}
			want = exact
		}
		if math.Abs(got-want) > 1e-6 || math.Abs(got-want) > 1e-6*want+1e-12 {
			t.Errorf("pace_fisher_greater%v = %.12g, reference %.12g", tb, got, want)
		}
	}
}

// The SQL semantic-version order agrees with the reference one.
func TestSemverSQLOrder(t *testing.T) {
	r := newRig(t)
	c := r.conn(t)
	vs := []string{"v1.9.3", "v1.10.0", "v1.10.0-rc.1", "v1.10.0-rc.2", "v1.10.0-rc.10", "v1.10.0-rc", "v1.10.0-alpha", "v1.10.0-beta.1",
		"v1.10.0-dev", "v0.0.0-dev", "v2.0.0", "v1.23.1", "v1.26.0", "v1.27.0-rc.1", "v10.0.0"}
	rows, err := c.Query(context.Background(), `SELECT v FROM unnest($1::text[]) v ORDER BY pace_semver(v)`, vs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(vs)
	slices.SortFunc(want, semverCompare)
	if !slices.Equal(got, want) {
		t.Fatalf("SQL order %v\nwant      %v", got, want)
	}
	var null bool
	if err := c.QueryRow(context.Background(), `SELECT pace_semver('1.2.3') IS NULL AND pace_semver('v1.2') IS NULL AND pace_semver('v1.2.3-pre') IS NULL`).Scan(&null); err != nil || !null {
		t.Fatalf("a version that is not normalized has a sort key (%v)", err)
	}
}

func releaseWeek() (*simweek.Week, time.Time) {
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday
	return simweek.Simulate(simweek.Config{Seed: 20261203, Start: start, Days: 14, Installs: 40, NewInstalls: 8}), start
}

// truthRange is a dashboard range a test compares with the truth.
type truthRange struct {
	name     string
	from, to time.Time
}

// fortnightRanges are the ranges the release and crash panels are checked
// over: the fortnight from start, its second week, mid-day bounds, a day.
func fortnightRanges(start time.Time) []truthRange {
	return []truthRange{
		{"fortnight", start, start.AddDate(0, 0, 14)},
		{"week 2", start.AddDate(0, 0, 7), start.AddDate(0, 0, 14)},
		{"days 4-10, mid-day bounds", start.AddDate(0, 0, 3).Add(-7 * time.Hour), start.AddDate(0, 0, 10).Add(-30 * time.Minute)},
		{"day 3", start.AddDate(0, 0, 2), start.AddDate(0, 0, 3)},
	}
}

// checkReleasePanels runs every release panel over several ranges and
// compares it with the truth; it returns how many queries it compared.
func checkReleasePanels(t *testing.T, c *pgx.Conn, week *simweek.Week, panels []dashboards.Panel, all []string) int {
	vars := dashboardVars(t)
	start := week.Start
	byTitle := map[string]dashboards.Panel{}
	for _, p := range panels {
		byTitle[p.Title] = p
	}
	checked := 0
	for _, rg := range fortnightRanges(start) {
		for _, cmds := range [][]string{all, all[:2]} {
			for _, title := range releasePanels {
				p, ok := byTitle[title]
				if !ok {
					t.Errorf("no panel %q", title)
					continue
				}
				tr := &releaseTruth{tr: week.Truth, from: ceilDay(rg.from), to: ceilDay(rg.to), vars: vars, allow: receiver.Commands()}
				wantCols, want := tr.want(title, cmds)
				cols, got := table(t, c, withVars(grafanaSQL(p.Targets[0].RawSQL, rg.from, rg.to, cmds), vars))
				if !slices.Equal(cols, wantCols) {
					t.Errorf("%q: columns %v, want %v", title, cols, wantCols)
				}
				if !sameRows(got, want, 1e-9) && !(strings.Contains(title, "on the newest") && sameRows(got, want, 1e-6)) {
					t.Errorf("%s, %d commands, %q:\n got  %v\n want %v", rg.name, len(cmds), title, got, want)
				}
				checked++
			}
		}
	}
	return checked
}

// TestReleasePanelsAgainstTruth: every release panel equals the truth of a
// fortnight with two releases, a regression, a new exit code, a command
// only two installs run and commands nobody runs, exactly (p-values to
// 1e-6 of the reference Fisher test).
func TestReleasePanelsAgainstTruth(t *testing.T) {
	r := newRig(t)
	week, _ := releaseWeek()
	postAll(t, r, week)
	c := r.conn(t)
	panels, cmdQuery := readDashboard(t)
	rows, err := c.Query(context.Background(), cmdQuery)
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	checked := checkReleasePanels(t, c, week, panels, all)

	// The cases are there to be seen, not only equal to the truth.
	vars := dashboardVars(t)
	q := func(title string) [][]cell {
		for _, p := range panels {
			if p.Title == title {
				_, rows := table(t, c, withVars(grafanaSQL(p.Targets[0].RawSQL, week.Start, week.End, all), vars))
				return rows
			}
		}
		t.Fatalf("no panel %q", title)
		return nil
	}
	newest := simweek.Versions[len(simweek.Versions)-1]
	if got := q("Newest version"); len(got) != 1 || got[0][0].s != newest {
		t.Errorf("Newest version %v, want %s (semver order, not v1.9.3, no dev build or pre-release)", got, newest)
	}
	if got := q("Regressions on the newest version"); len(got) != 1 || got[0][0].s != simweek.RegressedCommand {
		t.Errorf("Regressions %v, want %s alone", got, simweek.RegressedCommand)
	}
	if got := q("Improvements on the newest version"); len(got) != 1 || got[0][0].s != simweek.ImprovedCommand {
		t.Errorf("Improvements %v, want %s alone", got, simweek.ImprovedCommand)
	}
	found := false
	for _, row := range q("Installs per command") {
		if row[0].s == simweek.RareCommand {
			found = row[1].num == 2
		}
	}
	if !found {
		t.Errorf("Installs per command: %s not run by 2 installs", simweek.RareCommand)
	}
	if !slices.ContainsFunc(q("Unused commands"), func(r []cell) bool { return r[0].s == simweek.UnusedCommand }) {
		t.Errorf("Unused commands lacks %s", simweek.UnusedCommand)
	}
	if len(q("Rarely used commands")) == 0 {
		t.Error("no rarely used commands")
	}
	t.Logf("%d uploads, %d release-panel queries compared with the truth", len(week.Uploads), checked)
}

// command_daily holds, per day, command, version and install key (never
// the id), whether one of the runs that upload carried failed; a resent
// upload changes nothing, a later one on the same day only sets failed,
// and retention drops old days.
func TestCommandDaily(t *testing.T) {
	r := newRig(t)
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r.at(day)
	r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 3}, "pace get data-policy": {0: 1}}))
	r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 3}, "pace get data-policy": {0: 1}}))
	r.at(day.Add(time.Hour))
	r.post(t, body(id1, "v1.25.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 3, 1: 1}, "pace get data-policy": {0: 1}}))
	r.at(day.Add(2 * time.Hour))
	r.post(t, body(id1, "v1.26.0", "linux", map[string]map[int]uint64{"pace list tables": {0: 4, 1: 1}, "pace get data-policy": {0: 1}}))
	c := r.conn(t)
	rows, err := c.Query(context.Background(), `SELECT day, path, cli_version, install_key, failed FROM command_daily ORDER BY 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var d time.Time
		var p, v string
		var k []byte
		var f bool
		if err := rows.Scan(&d, &p, &v, &k, &f); err != nil {
			t.Fatal(err)
		}
		if string(k) != string(r.sink.InstallKey(id1)) || strings.Contains(string(k), id1) {
			t.Fatalf("install_key %x is not the keyed hash of the id", k)
		}
		got = append(got, fmt.Sprintf("%s %s %s %v", d.Format(time.DateOnly), p, v, f))
	}
	want := []string{"2026-03-02 pace get data-policy v1.25.0 false", "2026-03-02 pace list tables v1.25.0 true", "2026-03-02 pace list tables v1.26.0 false"}
	if !slices.Equal(got, want) {
		t.Fatalf("command_daily\n got  %q\n want %q", got, want)
	}
	if err := r.sink.Prune(context.Background(), day.AddDate(0, 0, 401)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM command_daily`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after the retention: %d rows (%v), want 0", n, err)
	}
}

// The receiver's allow-list is what command_path holds: written at Open,
// and a later Open with another list replaces it.
func TestCommandPathIsTheAllowList(t *testing.T) {
	r := newRig(t)
	c := r.conn(t)
	read := func() []string {
		rows, err := c.Query(context.Background(), `SELECT path FROM command_path ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got, want := read(), receiver.Commands(); !slices.Equal(got, want) {
		t.Fatalf("command_path %q, want the allow-list %q", got, want)
	}
	s, err := pgsink.Open(context.Background(), pgsink.Config{DSN: r.dsn, IDKey: testKey, Commands: []string{"pace", "pace list tables"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := read(); !slices.Equal(got, []string{"pace", "pace list tables"}) {
		t.Fatalf("after an Open with two commands, command_path %q", got)
	}
}
