// Command panels times the PostgreSQL dashboard's panels at the fleet's
// real size: it starts a PostgreSQL on 127.0.0.1, creates the receiver's
// schema through its migrations, fills it with a synthetic fleet
// (package fleetbench) and runs every panel's query over the dashboard's
// default range, printing the median and p90 of each. bench/panels.sh
// runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/fleetbench"
	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/receiver"
	"github.com/pace-cli/pace/function/servertest"
)

const target = time.Second

func main() {
	installs := flag.Int("installs", 100000, "installs in the fleet")
	days := flag.Int("days", 90, "days of activity generated")
	active := flag.Float64("active", 0.30, "mean share of the installs active on a day")
	seed := flag.Int64("seed", 1, "seed of the synthetic fleet")
	reps := flag.Int("reps", 7, "timed runs of each query, after one warm-up run")
	today := flag.String("today", time.Now().UTC().Format(time.DateOnly), "the last day generated, YYYY-MM-DD: the dashboard's now is its noon")
	dashboards := flag.String("dashboard", "function/dashboards/pace-telemetry-postgres.json", "dashboard JSON files to time, comma-separated")
	extra := flag.String("sql", "", "a file of SQL to run after generating, before timing (tables of another branch, built from the fleetgen tables)")
	role := flag.String("role", "function/dashboards/grafana-role.sql", "SQL creating the role Grafana reads as (pace_grafana), run after generating; the panels are timed as that role; empty: as the superuser")
	explain := flag.Bool("explain", false, "print EXPLAIN ANALYZE of each query slower than the target")
	serve := flag.Bool("serve", false, "after timing, keep the database up (its DSN printed) until interrupted, to try queries by hand")
	dsn := flag.String("dsn", "", "time the panels on this database (one -serve keeps up) instead of generating a fleet; -today must be its")
	flag.Parse()
	if *dsn != "" {
		err := timeOnly(*dsn, *reps, *today, strings.Split(*dashboards, ","), *explain)
		if err != nil {
			fmt.Fprintln(os.Stderr, "panels:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*installs, *days, *active, *seed, *reps, *today, strings.Split(*dashboards, ","), *extra, *role, *explain, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "panels:", err)
		os.Exit(1)
	}
}

func run(installs, days int, active float64, seed int64, reps int, today string, dashboards []string, extra, role string, explain, serve bool) error {
	ctx := context.Background()
	last, ds, err := readArgs(today, dashboards)
	if err != nil {
		return err
	}
	srv, err := servertest.NewPostgres()
	if err != nil {
		return err
	}
	defer srv.Stop()
	// Interrupted, the server still stops.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Stop()
		os.Exit(1)
	}()
	admin, err := pgx.Connect(ctx, srv.DSN("postgres"))
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE bench")
	admin.Close(ctx)
	if err != nil {
		return err
	}
	sink, err := pgsink.Open(ctx, pgsink.Config{DSN: srv.DSN("bench"), IDKey: []byte("benchmark-key-0123456789abcdef"), Commands: receiver.Commands()})
	if err != nil {
		return err
	}
	defer sink.Close()
	c, err := pgx.Connect(ctx, srv.DSN("bench"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)

	f := fleetbench.Fleet{Installs: installs, Days: days, LastDay: last, Active: active, Seed: seed, Prune: sink.Prune}
	st, err := fleetbench.Generate(ctx, c, f)
	if err != nil {
		return err
	}
	fmt.Printf("fleet: %d installs over %d days to %s, %.1f %% active on a mean day (schema version %d)\n",
		installs, days, today, 100*st.MeanActive, pgsink.SchemaVersion())
	fmt.Printf("rows: %d install-days generated; kept after the prune: active_daily %d, command_daily %d, usage_daily %d, install_state %d (holding %d counts); generated, pruned, vacuumed and analyzed in %v\n",
		st.GeneratedDays, st.ActiveDays, st.CommandDays, st.UsageRows, st.Installs, st.Counters, st.Took.Round(time.Second))
	fmt.Printf("slower steps: %s\n", strings.Join(st.Steps, "; "))
	// What the per-install rows cost on disk, per row, table and each index.
	for _, tbl := range []struct {
		name string
		rows int64
	}{{"active_daily", st.ActiveDays}, {"command_daily", st.CommandDays}} {
		rows, err := c.Query(ctx, `SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c
			WHERE c.oid = $1::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1::regclass) ORDER BY 1`, tbl.name)
		if err != nil {
			return err
		}
		var sizes []string
		var name string
		var size, total int64
		if _, err := pgx.ForEachRow(rows, []any{&name, &size}, func() error {
			sizes, total = append(sizes, fmt.Sprintf("%s %.0f", name, float64(size)/float64(tbl.rows))), total+size
			return nil
		}); err != nil {
			return err
		}
		fmt.Printf("bytes per %s row: %s; in all %.0f (%.0f MiB)\n", tbl.name, strings.Join(sizes, ", "), float64(total)/float64(tbl.rows), float64(total)/(1<<20))
	}
	if extra != "" {
		b, err := os.ReadFile(extra)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := c.Exec(ctx, string(b)); err != nil {
			return fmt.Errorf("%s: %v", extra, err)
		}
		fmt.Printf("%s: ran in %v\n", extra, time.Since(start).Round(time.Millisecond))
	}
	// A fresh connection for the panels: the generator's session settings
	// (work_mem) are not Grafana's; as Grafana's role, with its settings.
	timed := srv.DSN("bench")
	if role != "" {
		b, err := os.ReadFile(role)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, string(b)); err != nil {
			return fmt.Errorf("%s: %v", role, err)
		}
		timed = strings.Replace(timed, "postgres://postgres@", "postgres://pace_grafana@", 1)
		fmt.Printf("timed as pace_grafana, the role of %s\n", role)
	}
	if err := timePanels(ctx, timed, ds, dashboards, last, reps, explain); err != nil {
		return err
	}
	if serve {
		fmt.Printf("\nserving %s until interrupted\n", timed)
		select {} // the signal handler stops the server
	}
	return nil
}

// readArgs parses -today and reads the -dashboard files.
func readArgs(today string, dashboards []string) (time.Time, []*fleetbench.Dashboard, error) {
	last, err := time.Parse(time.DateOnly, today)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("-today %q: want YYYY-MM-DD", today)
	}
	var ds []*fleetbench.Dashboard
	for _, f := range dashboards {
		d, err := fleetbench.ReadDashboard(f)
		if err != nil {
			return time.Time{}, nil, err
		}
		ds = append(ds, d)
	}
	return last, ds, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// timeOnly times the dashboards' panels on an existing database.
func timeOnly(dsn string, reps int, today string, dashboards []string, explain bool) error {
	last, ds, err := readArgs(today, dashboards)
	if err != nil {
		return err
	}
	return timePanels(context.Background(), dsn, ds, dashboards, last, reps, explain)
}

// timePanels runs every query of the dashboards over their default range
// as of noon of the day last, and prints each one's median and p90.
func timePanels(ctx context.Context, dsn string, ds []*fleetbench.Dashboard, dashboards []string, last time.Time, reps int, explain bool) error {
	q, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer q.Close(ctx)
	now := last.Add(12 * time.Hour)
	slow := 0
	for i, d := range ds {
		from, to, err := d.Range(now)
		if err != nil {
			return fmt.Errorf("%s: %v", dashboards[i], err)
		}
		vars, err := d.Vars(ctx, q, from, to)
		if err != nil {
			return fmt.Errorf("%s: %v", dashboards[i], err)
		}
		fmt.Printf("\n%s: range %s to %s (%s to %s), %d runs of each query after a warm-up; target: median within %v\n",
			dashboards[i], d.From, d.To, from.Format(time.RFC3339), to.Format(time.RFC3339), reps, target)
		fmt.Printf("%10s %10s %7s        %s\n", "median", "p90", "rows", "panel")
		for _, t := range fleetbench.Time(ctx, q, d.Queries, from, to, vars, reps) {
			if t.Err != nil {
				fmt.Printf("%10s %10s %7s  ERROR %s\n%v\n%s\n", "-", "-", "-", t.Panel, t.Err, t.Substituted)
				slow++
				continue
			}
			verdict := "ok"
			if t.Median > target {
				verdict, slow = "SLOW", slow+1
			}
			fmt.Printf("%10s %10s %7d  %-5s %s\n", ms(t.Median), ms(t.P90), t.Rows, verdict, t.Panel)
			if explain && t.Median > target {
				rows, err := q.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+t.Substituted)
				if err == nil {
					for rows.Next() {
						var line string
						rows.Scan(&line)
						fmt.Println("    " + line)
					}
					rows.Close()
				}
			}
		}
	}
	if slow > 0 {
		fmt.Printf("\n%d queries failed or missed the target\n", slow)
	}
	return nil
}
