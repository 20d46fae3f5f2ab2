package pgsink

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles are the migrations, one file each, named
// NNNN_what.sql: applied in the order of NNNN, each once, in its own
// transaction; NNNN is the version recorded in schema_version. Never edit
// one that shipped: add a new one. Each file opens with comments saying
// what it is for; what is applied is the rest of the file, as it was when
// the migrations were a slice of strings in this file
// (TestMigrationFilesEqualOldSlice).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// functionsSQL is every SQL function of the schema in its current body,
// re-applied with CREATE OR REPLACE at every Open after the migrations.
//
//go:embed functions.sql
var functionsSQL string

// migrations is migrationFiles in order, each without its opening
// comments.
var migrations = loadMigrations()

// loadMigrations reads migrationFiles; a misnamed or missing file is a
// build mistake, caught by any test that opens a sink.
func loadMigrations() []string {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	var out []string
	for i, e := range entries { // sorted by name
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(e.Name(), want) {
			panic(fmt.Sprintf("pgsink: migration file %s: want the prefix %s", e.Name(), want))
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, migrationBody(string(b)))
	}
	return out
}

// migrationBody is a migration file without its opening comment lines and
// its final newline: the statement text that is applied.
func migrationBody(file string) string {
	for strings.HasPrefix(file, "--") {
		_, file, _ = strings.Cut(file, "\n")
	}
	return strings.TrimSuffix(file, "\n")
}

// migrationLock is the advisory lock key under which instances migrate,
// so that several starting at once apply each migration exactly once.
const migrationLock = 0x7061636501 // "pace" 1

// migrate brings the schema to the newest version.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, query("advisory_lock"), int64(migrationLock)); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), query("advisory_unlock"), int64(migrationLock))
	if _, err := conn.Exec(ctx, query("schema_version_table")); err != nil {
		return err
	}
	var have int
	if err := conn.QueryRow(ctx, query("schema_version")).Scan(&have); err != nil {
		return err
	}
	if have > len(migrations) {
		return fmt.Errorf("the database's schema is version %d, newer than this receiver's %d: deploy the newer receiver", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, query("record_version"), v)
			return err
		})
		if err != nil {
			return fmt.Errorf("schema migration %d: %w", v, err)
		}
	}
	if _, err := conn.Exec(ctx, functionsSQL); err != nil {
		return fmt.Errorf("schema functions (functions.sql): %w", err)
	}
	return nil
}

// SchemaVersion is the version migrate brings a database to.
func SchemaVersion() int { return len(migrations) }
