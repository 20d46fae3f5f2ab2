// Package platform connects to processing platforms (PostgreSQL here):
// their catalog, and applying and evaluating data policies on them.
package platform

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/policy"
)

// ErrUnreachable means the platform could not be connected to.
var ErrUnreachable = errors.New("platform unreachable")

// ErrNotFound means the platform, or a table on it, does not exist.
var ErrNotFound = errors.New("not found")

// Postgres is a connection to a PostgreSQL processing platform.
type Postgres struct {
	ID   string
	conn *pgx.Conn
}

// Connect opens the platform with id from settings. The password comes
// from the environment variable the platform names, never from a file we
// write.
func Connect(ctx context.Context, s config.Settings, id string, getenv config.Getenv) (*Postgres, error) {
	p, ok := s.Platform(id)
	if !ok {
		var ids []string
		for _, p := range s.Platforms {
			ids = append(ids, p.ID)
		}
		return nil, fmt.Errorf("processing platform %q: %w in config.yaml (known: %s)", id, ErrNotFound, strings.Join(ids, ", "))
	}
	if p.Type != "postgres" {
		return nil, fmt.Errorf("processing platform %q: type %q is not supported; only postgres is", id, p.Type)
	}
	cfg, err := pgx.ParseConfig(p.DSN)
	if err != nil {
		// pgx's message may quote the DSN, password and all.
		return nil, fmt.Errorf("processing platform %q: dsn in config.yaml is not a valid PostgreSQL connection string", id)
	}
	if p.PasswordEnv != "" {
		pw := getenv(p.PasswordEnv)
		if pw == "" {
			return nil, fmt.Errorf("processing platform %q: %w: the password variable %s is not set", id, ErrUnreachable, p.PasswordEnv)
		}
		cfg.Password = pw
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 10*time.Second {
		cfg.ConnectTimeout = 10 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("processing platform %q at %s:%d: %w: %v", id, cfg.Host, cfg.Port, ErrUnreachable, err)
	}
	return &Postgres{ID: id, conn: conn}, nil
}

// Close ends the connection.
func (pg *Postgres) Close() { pg.conn.Close(context.Background()) }

// systemSchemas are PostgreSQL's own.
const systemSchemas = `('pg_catalog', 'information_schema', 'pg_toast')`

// Schemas lists the schemas that hold data.
func (pg *Postgres) Schemas(ctx context.Context) ([]string, error) {
	return pg.strings(ctx, `select schema_name from information_schema.schemata
		where schema_name not in `+systemSchemas+` and schema_name not like 'pg\_temp\_%' and schema_name not like 'pg\_toast\_temp\_%'
		order by 1`)
}

// Tables lists schema.table of every table and view, of one schema if
// given.
func (pg *Postgres) Tables(ctx context.Context, schema string) ([]string, error) {
	return pg.strings(ctx, `select table_schema || '.' || table_name from information_schema.tables
		where table_schema not in `+systemSchemas+` and ($1 = '' or table_schema = $1)
		order by 1`, schema)
}

func (pg *Postgres) strings(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := pg.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Fields describes the columns of table (schema.table) as policy fields.
func (pg *Postgres) Fields(ctx context.Context, ref string) ([]policy.Field, error) {
	schema, table, err := policy.SplitRef(ref)
	if err != nil {
		return nil, err
	}
	rows, err := pg.conn.Query(ctx, `select column_name, data_type, is_nullable = 'NO' from information_schema.columns
		where table_schema = $1 and table_name = $2 order by ordinal_position`, schema, table)
	if err != nil {
		return nil, err
	}
	fields, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (policy.Field, error) {
		var f policy.Field
		var name string
		err := r.Scan(&name, &f.Type, &f.Required)
		f.NameParts = []string{name}
		return f, err
	})
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("table %s on %s: %w", ref, pg.ID, ErrNotFound)
	}
	return fields, nil
}

// Apply runs the policy's statements in one transaction: all its views
// and grants, or nothing. It first checks, naming what is wrong, that the
// source table exists, that every group is a role, and that each of the
// author's conditions and sql_statements is one expression over the
// source. Each statement then goes on its own through the extended
// protocol, which PostgreSQL refuses to carry more than one statement:
// SQL that ended a statement with ';' and began another fails there too.
func (pg *Postgres) Apply(ctx context.Context, p *policy.DataPolicy) error {
	var exists bool
	if err := pg.conn.QueryRow(ctx, `select to_regclass($1) is not null`, policy.QuoteRef(p.Source.Ref)).Scan(&exists); err != nil {
		return notFound(err) // e.g. the schema does not exist
	}
	if !exists {
		return fmt.Errorf("source table %s on %s: %w", p.Source.Ref, pg.ID, ErrNotFound)
	}
	var problems []string
	for _, g := range p.Groups() {
		if err := pg.conn.QueryRow(ctx, `select exists (select 1 from pg_roles where rolname = $1)`, g).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			problems = append(problems, fmt.Sprintf("principals: group %q is not a role on %s; create it (create role ... nologin) or fix the policy", g, pg.ID))
		}
	}
	more, err := pg.checkExpressions(ctx, p)
	if err != nil {
		return err
	}
	if problems = append(problems, more...); len(problems) > 0 {
		return &policy.Invalid{Source: p.ID, Problems: problems}
	}
	return pgx.BeginFunc(ctx, pg.conn, func(tx pgx.Tx) error {
		for i, stmts := range policy.Statements(p) {
			for _, sql := range stmts {
				if err := execOne(ctx, tx.Conn().PgConn(), sql); err != nil {
					return fmt.Errorf("rule_sets[%d] (view %s): %w", i, p.RuleSets[i].Target.Ref.IntegrationFQN, notFound(err))
				}
			}
		}
		return nil
	})
}

// execOne sends sql through the extended protocol (pgx's Exec would use
// the simple one, which runs any number of statements, for SQL without
// arguments): PostgreSQL refuses more than one statement there.
func execOne(ctx context.Context, conn *pgconn.PgConn, sql string) error {
	_, err := conn.ExecParams(ctx, sql, nil, nil, nil, nil).Close()
	return err
}

// checkExpressions asks PostgreSQL whether each of the author's
// expressions is one expression over the source (policy.CheckExpression),
// and a condition a boolean one. The queries are only prepared, never
// run, in a transaction that is rolled back, each under a savepoint so
// that one error does not hide the next.
func (pg *Postgres) checkExpressions(ctx context.Context, p *policy.DataPolicy) ([]string, error) {
	exprs := p.Expressions()
	if len(exprs) == 0 {
		return nil, nil
	}
	tx, err := pg.conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	var problems []string
	for _, e := range exprs {
		alias := "pace_" + rand.Text()
		var problem string
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			d, err := sp.Conn().PgConn().Prepare(ctx, "", policy.CheckExpression(p.Source.Ref, e.SQL, alias), nil)
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr):
				problem = fmt.Sprintf("is not one valid SQL expression over %s: %s", p.Source.Ref, pgErr.Message)
				return err // rolls back to the savepoint
			case err != nil:
				return err
			case len(d.Fields) != 1 || d.Fields[0].Name != alias:
				problem = "is not one SQL expression: it closes the parenthesis around it and goes on"
			case len(d.ParamOIDs) > 0:
				problem = "uses a parameter ($1, ...), which a view cannot have"
			case e.Condition && d.Fields[0].DataTypeOID != pgtype.BoolOID:
				problem = fmt.Sprintf("is of type %s; a condition must be boolean, e.g. age > 18", pg.typeName(d.Fields[0].DataTypeOID))
			}
			return nil
		})
		if problem != "" {
			problems = append(problems, e.Path+": "+problem)
		} else if err != nil {
			return nil, err
		}
	}
	return problems, nil
}

func (pg *Postgres) typeName(oid uint32) string {
	if t, ok := pg.conn.TypeMap().TypeForOID(oid); ok {
		return t.Name
	}
	return fmt.Sprintf("oid %d", oid)
}

// notFound marks PostgreSQL's "no such table, view or schema" as
// ErrNotFound, for its exit code.
func notFound(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") {
		return fmt.Errorf("%w: %s", ErrNotFound, pgErr.Message)
	}
	return err
}

// Evaluate returns the first limit rows of view as role sees them: inside
// a transaction that is rolled back, after SET ROLE.
func (pg *Postgres) Evaluate(ctx context.Context, view, role string, limit int) (columns []string, rows [][]any, err error) {
	tx, err := pg.conn.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "set local role "+policy.QuoteIdent(role)); err != nil {
		return nil, nil, err
	}
	r, err := tx.Query(ctx, fmt.Sprintf("select * from %s limit %d", policy.QuoteRef(view), limit))
	if err != nil {
		return nil, nil, notFound(err)
	}
	defer r.Close()
	for _, fd := range r.FieldDescriptions() {
		columns = append(columns, fd.Name)
	}
	for r.Next() {
		values, err := r.Values()
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, values)
	}
	return columns, rows, notFound(r.Err())
}
