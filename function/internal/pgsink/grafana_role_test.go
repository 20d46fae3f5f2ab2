package pgsink_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The dashboard's role (function/dashboards/grafana-role.sql, run as the
// tables' owner as docs/deploy.md says) reads every panel and alert rule,
// with the answers the owner gets, and nothing else: not the day's
// address salt and hashes, the bounds' state, per-install counters, the
// key fingerprints or the time of an install's last upload. Its sessions
// run without JIT, which the panel benchmark measured costing more than a
// panel's whole work.
func TestGrafanaRoleReadsThePanelsAndNothingElse(t *testing.T) {
	r := newRig(t)
	week, _ := releaseWeek()
	postAll(t, r, week)
	owner := r.conn(t)
	b, err := os.ReadFile("../../dashboards/grafana-role.sql")
	if err != nil {
		t.Fatal(err)
	}
	// Twice: run again after an upgrade, it keeps the role.
	for i := 0; i < 2; i++ {
		if _, err := owner.Exec(context.Background(), string(b)); err != nil {
			t.Fatalf("grafana-role.sql, run %d: %v", i+1, err)
		}
	}
	g, err := pgx.Connect(context.Background(), strings.Replace(r.dsn, "postgres://postgres@", "postgres://pace_grafana@", 1))
	if err != nil {
		t.Fatalf("connecting as pace_grafana: %v", err)
	}
	t.Cleanup(func() { g.Close(context.Background()) })
	var user, jit string
	if err := g.QueryRow(context.Background(), `SELECT current_user, current_setting('jit')`).Scan(&user, &jit); err != nil || user != "pace_grafana" || jit != "off" {
		t.Fatalf("session: user %q, jit %q, %v; want pace_grafana, off", user, jit, err)
	}

	panels, cmdQuery := readDashboard(t)
	rows, err := g.Query(context.Background(), cmdQuery)
	if err != nil {
		t.Fatalf("the command variable's query as pace_grafana: %v", err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(all) == 0 {
		t.Fatalf("commands %v, %v", all, err)
	}
	queries := map[string]string{}
	vars := dashboardVars(t)
	for _, p := range panels {
		for i, tg := range p.Targets {
			queries[p.Title+"/"+string(rune('A'+i))] = withVars(grafanaSQL(tg.RawSQL, week.Start, week.End, all), vars)
		}
	}
	for _, name := range []string{"receiver-health.yaml", "release-health.yaml"} {
		for _, d := range readAlertRule(t, name).Groups[0].Rules[0].Data {
			if d.Model.RawSQL != "" {
				queries[name] = grafanaSQL(d.Model.RawSQL, week.Start, week.End, all)
			}
		}
	}
	nonEmpty := 0
	for name, sql := range queries {
		cols, got := table(t, g, sql)
		wantCols, want := table(t, owner, sql)
		if !slices.Equal(cols, wantCols) || !sameRows(got, want, 0) {
			t.Errorf("%s as pace_grafana: %v %v, as the owner %v %v", name, cols, got, wantCols, want)
		}
		if len(got) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < len(queries)*3/4 {
		t.Fatalf("only %d of %d queries answered rows: the comparison shows little", nonEmpty, len(queries))
	}

	for _, q := range []string{
		`SELECT count(*) FROM source_salt`, `SELECT count(*) FROM source_day`, `SELECT count(*) FROM install_day`,
		`SELECT counter_paths FROM install_state`, `SELECT crash_sites FROM install_state`, `SELECT count(*) FROM id_key`, `SELECT max(last_received) FROM install_state`,
		`INSERT INTO usage_daily VALUES (current_date, 'pace', 0, 'v1', 'linux', 1)`, `DELETE FROM active_daily`,
	} {
		_, err := g.Exec(context.Background(), q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("%s as pace_grafana: %v, want permission denied", q, err)
		}
	}
	t.Logf("%d panel and alert queries answered the same as pace_grafana, %d with rows", len(queries), nonEmpty)
}
