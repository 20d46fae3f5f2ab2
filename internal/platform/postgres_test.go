package platform

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.Run(m)) }

// Apply's statements go one at a time: even SQL that got past the checks
// cannot carry a second statement. Outside a transaction, so that a
// statement that ran would stay.
func TestExecOneRefusesASecondStatement(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, servertest.SharedPostgres(t).DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	pg := conn.PgConn()
	if err := execOne(ctx, pg, "create table public.pace_one (x int)"); err != nil {
		t.Fatalf("one statement: %v", err)
	}
	t.Cleanup(func() { conn.Exec(ctx, "drop table if exists public.pace_one, public.pace_two") })
	for _, sql := range []string{
		"create table public.pace_two (x int); drop table public.pace_one",
		"select 1; drop table public.pace_one",
		"select $$;$$; drop table public.pace_one",
		"select 1 /* ; */; drop table public.pace_one -- ;",
	} {
		if err := execOne(ctx, pg, sql); err == nil || !strings.Contains(err.Error(), "cannot insert multiple commands") {
			t.Errorf("%q: %v, want PostgreSQL to refuse several statements", sql, err)
		}
	}
	var tables string
	if err := conn.QueryRow(ctx, `select string_agg(relname, ',' order by relname) from pg_class where relname like 'pace\_%'`).Scan(&tables); err != nil || tables != "pace_one" {
		t.Fatalf("tables %q (%v), want pace_one alone", tables, err)
	}
}
