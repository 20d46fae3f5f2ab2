package pgsink

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/servertest"
)

var schemaTestKey = []byte("0123456789abcdef0123456789abcdef")

// Every migration file applies exactly the text the receiver applied when
// the migrations were a slice in schema.go, so a database at any version
// migrates on as it did.
func TestMigrationFilesEqualOldSlice(t *testing.T) {
	if len(migrations) < len(oldMigrations) {
		t.Fatalf("%d migration files, %d migrations before", len(migrations), len(oldMigrations))
	}
	for i := range oldMigrations {
		if migrations[i] != oldMigrations[i] {
			t.Errorf("migration %d differs from what was applied before:\n%s\n--- before:\n%s", i+1, migrations[i], oldMigrations[i])
		}
	}
	if SchemaVersion() != 13 {
		t.Fatalf("SchemaVersion() = %d", SchemaVersion())
	}
}

var functionRE = regexp.MustCompile(`(?s)CREATE (?:OR REPLACE )?FUNCTION (\w+)(\([^)]*\) RETURNS [^$]*)\$\$(.*?)\$\$`)

// functionDefs are the functions a SQL text creates, by name: the
// signature and the body between $$; a later one of a name replaces an
// earlier.
func functionDefs(sql string) map[string][2]string {
	out := map[string][2]string{}
	for _, m := range functionRE.FindAllStringSubmatch(sql, -1) {
		out[m[1]] = [2]string{m[2], m[3]}
	}
	return out
}

// functions.sql holds each function the migrations created, with the
// signature and body the last migration creating it gave it.
func TestFunctionsFileEqualsMigrations(t *testing.T) {
	migrated := functionDefs(strings.Join(oldMigrations, "\n"))
	file := functionDefs(functionsSQL)
	if len(migrated) != 3 || len(file) != len(migrated) {
		t.Fatalf("functions.sql has %d functions, the migrations %d", len(file), len(migrated))
	}
	for name, def := range migrated {
		if file[name] != def {
			t.Errorf("%s in functions.sql:\n%q\nthe migrations left:\n%q", name, file[name], def)
		}
	}
	if n := strings.Count(functionsSQL, "CREATE OR REPLACE FUNCTION"); n != len(file) {
		t.Errorf("functions.sql: %d CREATE OR REPLACE FUNCTION for %d functions", n, len(file))
	}
}

// catalog is the schema of dsn's database as sorted lines: columns,
// constraints, indexes, extended statistics, functions and storage
// options.
func catalog(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `
		SELECT format('column %s.%s %s %s %s %s', table_name, column_name, ordinal_position, data_type, is_nullable, coalesce(column_default, ''))
			FROM information_schema.columns WHERE table_schema = 'public'
		UNION ALL SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
			FROM pg_constraint WHERE connamespace = 'public'::regnamespace
		UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL SELECT 'statistics ' || pg_get_statisticsobjdef(oid) FROM pg_statistic_ext WHERE stxnamespace = 'public'::regnamespace
		UNION ALL SELECT 'function ' || pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
		UNION ALL SELECT format('options %s %s', relname, reloptions) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND reloptions IS NOT NULL
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// oldMigrate migrates dsn's database to version upTo as the receiver did
// before the migrations were files: the old slice, one transaction each,
// recorded in schema_version.
func oldMigrate(t *testing.T, dsn string, upTo int) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= upTo; v++ {
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, oldMigrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			t.Fatalf("old migration %d: %v", v, err)
		}
	}
}

func openClose(t *testing.T, dsn string) {
	t.Helper()
	s, err := Open(context.Background(), Config{DSN: dsn, IDKey: schemaTestKey})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// A database migrated by the old slice (then on from the files past it),
// one migrated from the files, and one at an older version migrated on
// from the files have the same schema, functions included; the functions
// in the database are functions.sql's.
func TestSchemaEqualsOldMigrations(t *testing.T) {
	old := servertest.NewDatabase(t)
	oldMigrate(t, old, len(oldMigrations))
	openClose(t, old)
	want := catalog(t, old)
	for _, c := range []string{"constraint usage_daily usage_daily_pkey", "index CREATE INDEX command_daily_reach", "statistics ", "function CREATE OR REPLACE FUNCTION public.pace_fisher_greater",
		"options install_state {fillfactor=80}", "column install_state.counter_paths"} {
		if !strings.Contains(want, c) {
			t.Fatalf("the catalog lacks %q:\n%s", c, want)
		}
	}

	fresh := servertest.NewDatabase(t)
	openClose(t, fresh)
	if got := catalog(t, fresh); got != want {
		t.Errorf("a new database's schema differs from the old migrations':\n%s\n--- old:\n%s", got, want)
	}

	// Opening the old-migrated database re-applies functions.sql: no change.
	openClose(t, old)
	if got := catalog(t, old); got != want {
		t.Errorf("re-applying functions.sql changed the schema:\n%s\n--- before:\n%s", got, want)
	}

	for _, at := range []int{5, 7} {
		db := servertest.NewDatabase(t)
		oldMigrate(t, db, at)
		openClose(t, db)
		if got := catalog(t, db); got != want {
			t.Errorf("a database at version %d migrated on from the files differs:\n%s\n--- old:\n%s", at, got, want)
		}
	}

	c, err := pgx.Connect(context.Background(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for name, def := range functionDefs(functionsSQL) {
		var src string
		if err := c.QueryRow(context.Background(), `SELECT prosrc FROM pg_proc WHERE proname = $1 AND pronamespace = 'public'::regnamespace`, name).Scan(&src); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if src != def[1] {
			t.Errorf("%s in the database:\n%s\nfunctions.sql:\n%s", name, src, def[1])
		}
	}
}

// Migration 12 moves each install's counts from install_counter and
// install_crash into arrays in its state row: after it, an upload of
// the same install adds only what grew since its last upload before the
// migration, and a crash site counts only its new crash.
func TestCountsMoveIntoState(t *testing.T) {
	ctx := context.Background()
	db := servertest.NewDatabase(t)
	oldMigrate(t, db, 10)
	c, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	id := "5f0c6b1e-8a4e-4b7e-9d3c-2a1b0c9d8e7f"
	m := hmac.New(sha256.New, schemaTestKey)
	m.Write([]byte(id))
	key := m.Sum(nil)
	other := bytes.Repeat([]byte{7}, 32) // an install without crashes
	for _, q := range []string{
		`INSERT INTO install_state (install_key, last_received, last_day) VALUES ($1, '2026-11-01 10:00Z', '2026-11-01'), ($2, '2026-11-01 11:00Z', '2026-11-01')`,
		`INSERT INTO install_counter (install_key, path, exit_code, count) VALUES ($1, 'pace list tables', 1, 2), ($1, 'pace list tables', 0, 5),
			($1, 'pace get policy', 0, 3), ($1, 'pace list tables', 70, 1), ($2, 'pace', 0, 9)`,
		`INSERT INTO install_crash (install_key, path, site, count) SELECT $1, 'pace list tables', 'cli.run:+3', 1 WHERE $2::bytea IS NOT NULL`,
	} {
		if _, err := c.Exec(ctx, q, key, other); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(ctx, Config{DSN: db, IDKey: schemaTestKey, NewInstallsPerSource: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var paths, sites []string
	var codes []int32
	var counts, crashes []int64
	if err := c.QueryRow(ctx, `SELECT counter_paths, counter_codes, counter_counts, crash_sites, crash_counts FROM install_state WHERE install_key = $1`, key).
		Scan(&paths, &codes, &counts, &sites, &crashes); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(paths, codes, counts, sites, crashes)
	if want := "[pace get policy pace list tables pace list tables pace list tables] [0 0 1 70] [3 5 2 1] [cli.run:+3] [1]"; got != want {
		t.Errorf("the migrated state:\n got %s\nwant %s", got, want)
	}
	if err := c.QueryRow(ctx, `SELECT counter_paths, counter_counts, crash_sites FROM install_state WHERE install_key = $1`, other).Scan(&paths, &counts, &sites); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(paths, counts, sites); got != "[pace] [9] []" {
		t.Errorf("the migrated state of an install without crashes: %s", got)
	}
	var tables int
	c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename IN ('install_counter', 'install_crash')`).Scan(&tables)
	if tables != 0 {
		t.Errorf("%d of install_counter and install_crash are left", tables)
	}

	// The next upload: one more run of list tables (0), and one more crash
	// (70) at the same site.
	u := &sink.Upload{ID: id, CLIVersion: "v1.2.0", OS: "linux", Received: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), Counters: []sink.Counter{
		{Path: "pace get policy", ExitCode: 0, Count: 3}, {Path: "pace list tables", ExitCode: 0, Count: 6},
		{Path: "pace list tables", ExitCode: 1, Count: 2}, {Path: "pace list tables", ExitCode: 70, Count: 2}},
		Crashes: []sink.Crash{{Path: "pace list tables", Site: "cli.run:+3", Count: 2}}}
	if err := s.Write(ctx, u); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(ctx, `SELECT format('%s/%s=%s', path, exit_code, runs) FROM usage_daily ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(runs, " "); got != "pace list tables/0=1 pace list tables/70=1" {
		t.Errorf("usage_daily after the migration: %s, want only what grew", got)
	}
	var crashed int64
	if err := c.QueryRow(ctx, `SELECT sum(crashes) FROM crash_daily`).Scan(&crashed); err != nil || crashed != 1 {
		t.Errorf("crash_daily after the migration: %d (%v), want the one new crash", crashed, err)
	}
}
