// Package fleetbench measures the PostgreSQL dashboard at the fleet's real
// size: it fills the pgsink tables with a synthetic fleet, in bulk SQL
// rather than through the handler (2.7 M install-days would take hours),
// in exactly the rows the sink writes, and times every panel's query as
// Grafana sends it.
package fleetbench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Fleet describes the synthetic fleet.
type Fleet struct {
	Installs int       // installs seen in the period
	Days     int       // days generated, ending with LastDay
	LastDay  time.Time // the last UTC day generated: the benchmark's "today"
	Active   float64   // the mean share of installs active on a day
	Seed     int64
	// Prune, if set, is the sink's own (*pgsink.Sink).Prune, run as of
	// LastDay after the rows are written: per-install activity past the
	// sink's activity days is rolled up and deleted, as in a live sink.
	Prune func(ctx context.Context, today time.Time) error
}

// Command is one command path of the synthetic fleet: its share of the
// picks and the share of its runs that fail.
type Command struct {
	Path    string
	Weight  float64
	Failure float64
}

// Commands are the paths the fleet runs, from the CLI's allow-list
// (commands.txt; a test checks that each is accepted by the receiver):
// a few daily commands make most of the runs, groups and completion
// scripts are rare, and "pace delete" (a group) is almost never run.
var Commands = []Command{
	{"pace list tables", 12, 0.03},
	{"pace get data-policy", 10, 0.04},
	{"pace apply data-policy", 8, 0.08},
	{"pace list data-policies", 8, 0.02},
	{"pace upsert data-policy", 6, 0.07},
	{"pace evaluate data-policy", 5, 0.06},
	{"pace version", 5, 0},
	{"pace transpile data-policy", 4, 0.05},
	{"pace list schemas", 4, 0.03},
	{"pace list processing-platforms", 3, 0.04},
	{"pace help", 3, 0},
	{"pace", 2, 0},
	{"pace telemetry status", 1.5, 0.01},
	{"pace delete data-policy", 1, 0.05},
	{"pace completion zsh", 0.6, 0},
	{"pace completion bash", 0.5, 0},
	{"pace telemetry show", 0.5, 0.01},
	{"pace list", 0.3, 0},
	{"pace telemetry enable", 0.3, 0},
	{"pace telemetry disable", 0.3, 0},
	{"pace get", 0.2, 0},
	{"pace apply", 0.2, 0},
	{"pace completion fish", 0.1, 0},
	{"pace telemetry local", 0.1, 0},
	{"pace telemetry", 0.1, 0},
	{"pace evaluate", 0.1, 0},
	{"pace upsert", 0.1, 0},
	{"pace transpile", 0.1, 0},
	{"pace completion powershell", 0.05, 0},
	{"pace completion", 0.05, 0},
	{"pace delete", 0.002, 0},
}

// RegressedPath fails three times as often on the newest release: a
// regression for the release-health panels to find.
const RegressedPath = "pace apply data-policy"

// FixedPath never fails on the newest release: an improvement.
const FixedPath = "pace upsert data-policy"

// Release is a published CLI version and the day (relative to the
// period's first) it came out.
type Release struct {
	Version string
	Day     int
	Pre     bool
}

// Releases are the fleet's versions, oldest first: an old one most
// laggards still run, then a minor release every two weeks from six weeks
// before the period to its end, a patch release five days after every
// other one, and a release candidate four days before each minor release
// (taken only by the few installs that opt into them).
func (f Fleet) Releases() []Release {
	rs := []Release{{"v1.19.0", -400, false}}
	for k, day := 0, -42; day < f.Days; k, day = k+1, day+14 {
		minor := 20 + k
		rs = append(rs, Release{fmt.Sprintf("v1.%d.0-rc.1", minor), day - 4, true}, Release{fmt.Sprintf("v1.%d.0", minor), day, false})
		if k%2 == 0 && day+5 < f.Days {
			rs = append(rs, Release{fmt.Sprintf("v1.%d.1", minor), day + 5, false})
		}
	}
	// Sorted by day (the rc of one release and the patch of the one before
	// it can swap): the version lookup bisects the days.
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Day < rs[j-1].Day; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	return rs
}

// Stats is what Generate made.
type Stats struct {
	Took          time.Duration
	Steps         []string // the slower steps and their times
	GeneratedDays int64    // install-days generated
	// Rows the sink's tables hold (after the prune, if any).
	ActiveDays, CommandDays, UsageRows, Counters, Installs int64   // Counters: the counts in install_state
	MeanActive                                             float64 // mean share of Installs active on a day
}

// step notes a statement that took a second or more, by its first words.
func (st *Stats) step(sql string, start time.Time) {
	took := time.Since(start)
	if took < time.Second {
		return
	}
	words := strings.Fields(sql)
	st.Steps = append(st.Steps, fmt.Sprintf("%s %v", strings.Join(words[:min(4, len(words))], " "), took.Round(100*time.Millisecond)))
}

// Generate fills the pgsink tables (created by pgsink.Open) with the
// fleet, prunes them with f.Prune, then VACUUMs and ANALYZEs them, as autovacuum keeps a live
// database. The intermediate tables stay in the schema fleetgen:
// fleetgen.install (i, key, os, …), fleetgen.active (d, i, key, version,
// os, sec: one row per install and active day, d counted from the first
// day) and fleetgen.runs (d, i, p, code, version, os, runs: p indexes
// Commands from 1), for extra SQL to build other tables from.
func Generate(ctx context.Context, c *pgx.Conn, f Fleet) (Stats, error) {
	start := time.Now()
	first := f.LastDay.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(f.Days - 1))
	rs := f.Releases()
	var stDays, allDays []int
	var stVers, allVers []string
	for _, r := range rs {
		allDays, allVers = append(allDays, r.Day), append(allVers, r.Version)
		if !r.Pre {
			stDays, stVers = append(stDays, r.Day), append(stVers, r.Version)
		}
	}
	newest := stVers[len(stVers)-1]
	for i := len(rs) - 1; i >= 0; i-- {
		if !rs[i].Pre && strings.HasSuffix(rs[i].Version, ".0") {
			newest = rs[i].Version
			break
		}
	}
	var paths []string
	var cum, fail []float64
	total := 0.0
	for _, cm := range Commands {
		total += cm.Weight
	}
	acc := 0.0
	for _, cm := range Commands {
		paths, cum, fail = append(paths, cm.Path), append(cum, acc/total), append(fail, cm.Failure)
		acc += cm.Weight
	}
	// The activity classes' probabilities average 0.29 a day after
	// weekends and late joiners; scale them to the asked share.
	scale := f.Active / 0.29
	type stmt struct {
		sql  string
		args []any
	}
	var st Stats
	sql := []stmt{
		{sql: `SET work_mem = '256MB'`},
		{sql: `SET maintenance_work_mem = '512MB'`},
		{sql: `SET synchronous_commit = off`},
		{sql: `DROP SCHEMA IF EXISTS fleetgen CASCADE`},
		{sql: `CREATE SCHEMA fleetgen`},
		// u(a, b) is a uniform number in [0, 1), a pure function of the seed
		// and its arguments: the fleet is the same on every run.
		{sql: fmt.Sprintf(`CREATE FUNCTION fleetgen.u(a bigint, b bigint) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
			AS $$ SELECT ((hashint8extended(a, hashint8extended(b, %d)) >> 11) & 4503599627370495)::float8 / 4503599627370496 $$`, f.Seed)},
		// Installs: a system; 75 %% there from the start, the rest joining
		// during the period; a daily, regular or occasional user; an upgrade
		// lag (exponential, mean 6 days; 15 %% laggards add 45); 3 %% take
		// release candidates, 1 %% run development builds; 3 %% are scripts
		// running commands forty times as often.
		{sql: fmt.Sprintf(`CREATE UNLOGGED TABLE fleetgen.install AS
			SELECT i, sha256(int8send(i) || int8send(%[1]d)) AS key,
				CASE WHEN fleetgen.u(i, 1) < 0.55 THEN 'linux' WHEN fleetgen.u(i, 1) < 0.90 THEN 'darwin' ELSE 'windows' END AS os,
				CASE WHEN fleetgen.u(i, 2) < 0.75 THEN -400 ELSE floor(fleetgen.u(i, 3) * %[2]d)::int END AS first,
				least(1.0, %[3]g * CASE WHEN fleetgen.u(i, 4) < 0.2 THEN 0.95 WHEN fleetgen.u(i, 4) < 0.5 THEN 0.45 ELSE 0.15 END) AS p,
				(floor(-ln(1 - fleetgen.u(i, 5)) * 6) + CASE WHEN fleetgen.u(i, 6) < 0.15 THEN 45 ELSE 0 END)::int AS lag,
				CASE WHEN fleetgen.u(i, 7) < 0.01 THEN 2 WHEN fleetgen.u(i, 7) < 0.04 THEN 1 ELSE 0 END AS channel,
				CASE WHEN fleetgen.u(i, 8) < 0.03 THEN 40.0 ELSE 1.5 END AS busy
			FROM generate_series(1::bigint, %[4]d) i`, f.Seed, f.Days, scale, f.Installs)},
		// Active days (weekends at 40 %%), with the version of the day: the
		// newest release out lag days ago, or at the install's first day.
		{sql: fmt.Sprintf(`CREATE UNLOGGED TABLE fleetgen.active AS
			SELECT d, i.i, i.key, i.os,
				CASE i.channel WHEN 2 THEN 'v0.0.0-dev'
					WHEN 1 THEN ($1::text[])[greatest(1, width_bucket(greatest(d, i.first), $2::int[]))]
					ELSE ($3::text[])[greatest(1, width_bucket(greatest(d - i.lag, i.first), $4::int[]))] END AS version,
				i.busy, floor(fleetgen.u(i.i, 100000 + d) * 86400)::int AS sec
			FROM fleetgen.install i, generate_series(0, %[1]d - 1) d
			WHERE d >= i.first AND fleetgen.u(i.i, 200000 + d) < i.p * CASE WHEN extract(isodow FROM date '%[2]s' + d) >= 6 THEN 0.4 ELSE 1 END`,
			f.Days, first.Format(time.DateOnly)), args: []any{allVers, allDays, stVers, stDays}},
		// Runs: 1 to 8 picks of a command a day (mean 2.2), each run 1 + an
		// exponential number of times; its failures by randomized rounding
		// of the command's rate (three times it on the newest release for
		// RegressedPath), with exit code 1, 2, 130 (interrupted) or 70
		// (crashed).
		{sql: fmt.Sprintf(`CREATE UNLOGGED TABLE fleetgen.runs AS
			WITH picks AS (
				SELECT a.d, a.i, a.version, a.os, p, n,
					floor(n * ($2::float8[])[p] * CASE WHEN a.version = '%[1]s' AND p = %[2]d THEN 3 WHEN a.version = '%[1]s' AND p = %[3]d THEN 0 ELSE 1 END + fleetgen.u(a.i, 500000 + a.d * 16 + j))::int AS f,
					fleetgen.u(a.i, 600000 + a.d * 16 + j) AS uc
				FROM fleetgen.active a,
					generate_series(1, least(8, 1 + floor(-ln(1 - fleetgen.u(a.i, 700000 + a.d)) * 1.2)::int)) j,
					LATERAL (SELECT width_bucket(fleetgen.u(a.i, 300000 + a.d * 16 + j), $1::float8[]) AS p,
						1 + floor(-ln(1 - fleetgen.u(a.i, 400000 + a.d * 16 + j)) * a.busy)::int AS n) pick
			)
			SELECT d, i, p::smallint, code, version, os, sum(r)::int AS runs
			FROM picks, LATERAL (VALUES (0, n - least(f, n)), (CASE WHEN uc < 0.75 THEN 1 WHEN uc < 0.9 THEN 2 WHEN uc < 0.97 THEN 130 ELSE 70 END, least(f, n))) AS v(code, r)
			WHERE r > 0
			GROUP BY 1, 2, 3, 4, 5, 6`, newest, indexOf(paths, RegressedPath)+1, indexOf(paths, FixedPath)+1), args: []any{cum, fail}},
		// The sink's tables, as it writes them.
		{sql: fmt.Sprintf(`INSERT INTO active_daily (day, install_key, cli_version, os, last_at)
			SELECT date '%[1]s' + d, key, version, os, (date '%[1]s' + d)::timestamp AT TIME ZONE 'UTC' + sec * interval '1 second'
			FROM fleetgen.active ORDER BY 1, 2`, first.Format(time.DateOnly))},
		// Which installs ran each command on each version that day, and
		// whether one of those runs failed.
		{sql: fmt.Sprintf(`INSERT INTO command_daily (day, path, cli_version, install_key, failed)
			SELECT date '%[1]s' + r.d, ($1::text[])[r.p], r.version, i.key, bool_or(r.code <> 0)
			FROM fleetgen.runs r JOIN fleetgen.install i USING (i) GROUP BY 1, 2, 3, 4`, first.Format(time.DateOnly)), args: []any{paths}},
		{sql: fmt.Sprintf(`INSERT INTO usage_daily (day, path, exit_code, cli_version, os, runs)
			SELECT date '%[1]s' + d, ($1::text[])[p], code, version, os, sum(runs)
			FROM fleetgen.runs GROUP BY 1, 2, 3, 4, 5`, first.Format(time.DateOnly)), args: []any{paths}},
		{sql: fmt.Sprintf(`INSERT INTO install_state (install_key, last_received, last_day)
			SELECT key, max((date '%[1]s' + d)::timestamp AT TIME ZONE 'UTC' + sec * interval '1 second'), date '%[1]s' + max(d)
			FROM fleetgen.active GROUP BY key`, first.Format(time.DateOnly))},
		// The crashes' sites: one per command.
		{sql: fmt.Sprintf(`INSERT INTO crash_daily (day, path, cli_version, site, install_key, crashes)
			SELECT date '%[1]s' + r.d, ($1::text[])[r.p], r.version, 'internal/cli.crashTest:+' || r.p || ' internal/cli.newRoot.func1:+2', i.key, sum(r.runs)
			FROM fleetgen.runs r JOIN fleetgen.install i USING (i) WHERE r.code = 70 GROUP BY 1, 2, 3, 4, 5`, first.Format(time.DateOnly)), args: []any{paths}},
		// Each install's cumulative counts, in its state row.
		{sql: `UPDATE install_state s SET counter_paths = c.paths, counter_codes = c.codes, counter_counts = c.counts
			FROM (SELECT key, array_agg(path ORDER BY path COLLATE "C", code) AS paths, array_agg(code ORDER BY path COLLATE "C", code) AS codes,
					array_agg(n ORDER BY path COLLATE "C", code) AS counts
				FROM (SELECT i.key, ($1::text[])[r.p] AS path, r.code, sum(r.runs)::bigint AS n FROM fleetgen.runs r JOIN fleetgen.install i USING (i) GROUP BY 1, 2, 3) x
				GROUP BY key) c
			WHERE s.install_key = c.key`, args: []any{paths}},
	}
	// The receiver's health figures: per hour and shard, the uploads
	// taken (about one and a half a day per active install), a few
	// refused and rate-limited.
	sql = append(sql, stmt{sql: fmt.Sprintf(`INSERT INTO receiver_health (hour, outcome, reason, shard, uploads, runs)
		SELECT h, o.outcome, o.reason, shard, n, 0
		FROM (SELECT d, count(*) AS installs FROM fleetgen.active GROUP BY d) a,
			generate_series(0, 23) hr, generate_series(0, 15) shard,
			(VALUES ('accepted', '', 1.0), ('refused', 'schema', 0.003), ('rate_limited', '', 0.001)) o(outcome, reason, share),
			LATERAL (SELECT (date '%[1]s' + a.d)::timestamp AT TIME ZONE 'UTC' + hr * interval '1 hour' AS h,
				floor(a.installs * 1.5 / 24 / 16 * o.share + fleetgen.u(a.d * 1000 + hr * 16 + shard, length(o.outcome)))::bigint AS n) x
		WHERE n > 0`, first.Format(time.DateOnly))})
	for _, s := range sql {
		t := time.Now()
		if _, err := c.Exec(ctx, s.sql, s.args...); err != nil {
			return Stats{}, fmt.Errorf("generating the fleet: %w\n%s", err, s.sql)
		}
		st.step(s.sql, t)
	}
	// What the sink keeps after the period: its own prune rolls up the
	// older days and deletes their per-install rows.
	if f.Prune != nil {
		t := time.Now()
		if err := f.Prune(ctx, f.LastDay); err != nil {
			return Stats{}, fmt.Errorf("pruning the fleet: %w", err)
		}
		st.step("prune and roll up", t)
	}
	for _, table := range []string{"active_daily", "command_daily", "usage_daily", "crash_daily", "install_state",
		"activity_rollup", "installs_rollup", "retention_rollup", "command_path", "receiver_health"} {
		t := time.Now()
		if _, err := c.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			return Stats{}, err
		}
		st.step("VACUUM ANALYZE "+table, t)
	}
	err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM fleetgen.active), (SELECT count(*) FROM active_daily), (SELECT count(*) FROM command_daily),
		(SELECT count(*) FROM usage_daily), (SELECT coalesce(sum(cardinality(counter_paths)), 0) FROM install_state), (SELECT count(*) FROM install_state)`).
		Scan(&st.GeneratedDays, &st.ActiveDays, &st.CommandDays, &st.UsageRows, &st.Counters, &st.Installs)
	if err != nil {
		return Stats{}, err
	}
	st.MeanActive = float64(st.GeneratedDays) / float64(f.Days) / float64(f.Installs)
	st.Took = time.Since(start)
	return st, nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return math.MinInt32
}
