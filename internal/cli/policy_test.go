package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/policy"
)

// pgSandbox is a sandbox whose config.yaml names a real PostgreSQL as
// processing platform pg, with a fresh database holding public.demo and
// the roles of the demo policy.
func pgSandbox(t *testing.T) (*sandbox, *pgx.Conn) {
	t.Helper()
	srv := servertest.SharedPostgres(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, srv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	db = db[:min(len(db), 50)]
	if _, err := admin.Exec(ctx, fmt.Sprintf("drop database if exists %q with (force)", db)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("create database %q", db)); err != nil {
		t.Fatal(err)
	}
	// Roles are cluster-wide: make them once, idempotently.
	admin.Exec(ctx, `do $$ begin
		if not exists (select from pg_roles where rolname = 'fraud_and_risk') then
			create role fraud_and_risk nologin; create role marketing nologin; create role administrator nologin;
			create role alice login in role fraud_and_risk; create role bob login in role marketing;
			create role carol login; create role dave login in role administrator;
		end if; end $$`)
	conn, err := pgx.Connect(ctx, srv.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `
		create table public.demo (transactionid integer, userid integer, email varchar, age integer, brand varchar, ts timestamptz);
		insert into public.demo values
			(1, 101, 'ann@example.com', 34, 'MC', now() - interval '1 day'),
			(2, 102, 'ben@example.org', 17, 'VISA', now() - interval '2 days'),
			(3, 103, 'cat@example.net', 52, 'MC', now() - interval '90 days'),
			(4, 104, 'dan@example.com', 25, 'AMEX', now() - interval '3 days');`); err != nil {
		t.Fatal(err)
	}
	s := newSandbox(t)
	os.MkdirAll(s.dir, 0o700)
	s.env["PACE_PG_PASSWORD"] = "unused-with-trust"
	cfg := fmt.Sprintf("processing_platforms:\n  - id: pg\n    type: postgres\n    dsn: %s\n    password_env: PACE_PG_PASSWORD\n", srv.DSN(db))
	if err := os.WriteFile(filepath.Join(s.dir, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, conn
}

func demoPolicyFile() string {
	abs, _ := filepath.Abs(filepath.Join("..", "policy", "testdata", "demo-policy.yaml"))
	return abs
}

// rowsAs reads the view as a login role would, straight from PostgreSQL.
func rowsAs(t *testing.T, conn *pgx.Conn, role string) []map[string]any {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "set local role "+role); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, "select transactionid, userid, email, brand from public.demo_view order by transactionid")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToMap)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPolicyLifecycleOnPostgres(t *testing.T) {
	s, conn := pgSandbox(t)

	if r := s.pace("list", "processing-platforms"); r.code != 0 || !strings.Contains(r.stdout, "id: pg") || strings.Contains(r.stdout, "postgres://") {
		t.Fatalf("list processing-platforms: %+v", r)
	}
	if r := s.pace("list", "schemas", "--processing-platform", "pg"); r.code != 0 || !strings.Contains(r.stdout, "- public") || strings.Contains(r.stdout, "pg_catalog") {
		t.Fatalf("list schemas: %+v", r)
	}
	if r := s.pace("list", "tables", "-p", "pg", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"public.demo"`) {
		t.Fatalf("list tables: %+v", r)
	}
	r := s.pace("get", "data-policy", "--processing-platform", "pg", "--bare", "public.demo")
	var bare policy.DataPolicy
	if r.code != 0 || yaml.Unmarshal([]byte(r.stdout), &bare) != nil || len(bare.Source.Fields) != 6 || bare.Source.Fields[5].Type != "timestamp with time zone" {
		t.Fatalf("bare policy: %+v", r)
	}

	if r := s.pace("upsert", "data-policy", demoPolicyFile()); r.code != 0 {
		t.Fatalf("upsert: %+v", r)
	}
	if r := s.pace("list", "data-policies", "-o", "json"); !strings.Contains(r.stdout, `"id": "public-demo"`) {
		t.Fatalf("list data-policies: %+v", r)
	}
	golden, _ := os.ReadFile(filepath.Join("..", "policy", "testdata", "demo-policy.sql"))
	if r := s.pace("transpile", "data-policy", "public-demo"); r.code != 0 || r.stdout != string(golden) {
		t.Fatalf("transpile: %+v", r)
	}
	if r := s.pace("apply", "data-policy", "public-demo"); r.code != 0 || !strings.Contains(r.stdout, "public.demo_view") {
		t.Fatalf("apply: %+v", r)
	}

	// What each role sees, read as that role straight from PostgreSQL.
	alice := rowsAs(t, conn, "alice") // fraud_and_risk: everything
	if len(alice) != 4 || alice[1]["email"] != "ben@example.org" || alice[1]["userid"] != int32(102) || alice[0]["brand"] != "MC" {
		t.Fatalf("alice sees %v", alice)
	}
	bob := rowsAs(t, conn, "bob") // marketing: adults of the last 30 days, masked
	if len(bob) != 2 || bob[0]["transactionid"] != int32(1) || bob[1]["transactionid"] != int32(4) {
		t.Fatalf("bob sees rows %v", bob)
	}
	if bob[0]["email"] != "****@example.com" || bob[0]["userid"] != nil || bob[0]["brand"] != "MasterCard" {
		t.Fatalf("bob sees %v", bob[0])
	}
	dave := rowsAs(t, conn, "dave") // administrator: user ids; otherwise the defaults
	if len(dave) != 3 || dave[0]["userid"] != int32(101) || dave[0]["email"] != "****" || dave[0]["brand"] != "MC" {
		t.Fatalf("dave sees %v", dave)
	}
	// A role in none of the policy's groups is granted nothing.
	tx0, _ := conn.Begin(context.Background())
	tx0.Exec(context.Background(), "set local role carol")
	if _, err := tx0.Exec(context.Background(), "select * from public.demo_view"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("carol read the view: %v", err)
	}
	tx0.Rollback(context.Background())
	// Nobody but the owner reads the table itself.
	tx, _ := conn.Begin(context.Background())
	tx.Exec(context.Background(), "set local role carol")
	if _, err := tx.Exec(context.Background(), "select * from public.demo"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("carol read the source table: %v", err)
	}
	tx.Rollback(context.Background())

	// evaluate shows the same through pace.
	r = s.pace("evaluate", "data-policy", "public-demo", "--as", "bob", "-o", "json")
	var seen []struct {
		View string           `json:"view"`
		Rows []map[string]any `json:"rows"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &seen) != nil || len(seen) != 1 || len(seen[0].Rows) != 2 || seen[0].Rows[0]["email"] != "****@example.com" {
		t.Fatalf("evaluate as bob: %+v", r)
	}
	if !strings.Contains(r.stdout, `"transactionid": 1,`) || strings.Index(r.stdout, `"transactionid"`) > strings.Index(r.stdout, `"userid"`) {
		t.Fatalf("evaluate output is not in column order: %s", r.stdout)
	}
	if r := s.pace("evaluate", "data-policy", "public-demo", "--as", "dave", "--limit", "1"); r.code != 0 || strings.Count(r.stdout, "transactionid:") != 1 {
		t.Fatalf("evaluate --limit 1: %+v", r)
	}

	if r := s.pace("delete", "data-policy", "public-demo"); r.code != 0 {
		t.Fatalf("delete: %+v", r)
	}
	if r := s.pace("get", "data-policy", "public-demo"); r.code != ExitNotFound || !strings.Contains(r.err, "not found") {
		t.Fatalf("get after delete: %+v", r)
	}
	// Every command above was counted under its path, never its arguments.
	counts := s.counts()
	for _, path := range []string{"pace apply data-policy", "pace evaluate data-policy", "pace list tables", "pace get data-policy"} {
		if counts[path][0].CumulativeCount == 0 {
			t.Errorf("%q not counted: %v", path, counts)
		}
	}
	data, _ := os.ReadFile(filepath.Join(s.dir, "telemetry.yaml"))
	for _, leak := range []string{"public-demo", "bob", "demo-policy", "public.demo"} {
		if strings.Contains(string(data), leak) {
			t.Errorf("%q leaked into telemetry.yaml", leak)
		}
	}
}

func TestPolicyErrorsAndExitCodes(t *testing.T) {
	s, _ := pgSandbox(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	src, _ := os.ReadFile(demoPolicyFile())
	os.WriteFile(bad, []byte(strings.Replace(string(src), "- fixed: {value: '****'}", "- fixed: {value: '****'}\n            nullify: {}", 1)), 0o600)
	if r := s.pace("upsert", "data-policy", bad); r.code != ExitInvalid || !strings.Contains(r.err, bad) || !strings.Contains(r.err, "rule_sets[0].field_transforms[0].transforms[2]: must have exactly one") {
		t.Fatalf("invalid policy: %+v", r)
	}
	if r := s.pace("transpile", "data-policy", "nope"); r.code != ExitNotFound {
		t.Fatalf("unknown policy: %+v", r)
	}
	if r := s.pace("list", "tables", "-p", "elsewhere"); r.code != ExitNotFound || !strings.Contains(r.err, `"elsewhere"`) || !strings.Contains(r.err, "known: pg") {
		t.Fatalf("unknown platform: %+v", r)
	}
	if r := s.pace("list", "tables"); r.code != ExitUsage {
		t.Fatalf("no platform: %+v", r)
	}
	if r := s.pace("get", "data-policy", "-p", "pg", "--bare", "public.nope"); r.code != ExitNotFound {
		t.Fatalf("bare of a missing table: %+v", r)
	}
	if r := s.pace("list", "data-policies", "-o", "xml"); r.code != ExitUsage || !strings.Contains(r.err, "use yaml or json") {
		t.Fatalf("-o xml: %+v", r)
	}
	// A source table that is not there.
	os.WriteFile(bad, []byte(strings.Replace(string(src), "ref: public.demo\n", "ref: public.gone\n", 1)), 0o600)
	if r := s.pace("upsert", "data-policy", bad); r.code != 0 {
		t.Fatalf("upsert: %+v", r)
	}
	if r := s.pace("apply", "data-policy", "public-demo"); r.code != ExitNotFound || !strings.Contains(r.err, "gone") {
		t.Fatalf("apply on a missing table: %+v", r)
	}
	if r := s.pace("evaluate", "data-policy", "public-demo", "--as", "dave"); r.code != ExitNotFound {
		t.Fatalf("evaluate of a view never applied: %+v", r)
	}
	// A group that is not a role: refused before anything runs.
	missing := strings.Replace(string(src), "group: marketing}]\n            regexp", "group: nobody_here}]\n            regexp", 1)
	os.WriteFile(bad, []byte(missing), 0o600)
	if r := s.pace("upsert", "data-policy", bad); r.code != 0 {
		t.Fatalf("upsert: %+v", r)
	}
	if r := s.pace("apply", "data-policy", "public-demo"); r.code != ExitInvalid || !strings.Contains(r.err, `group "nobody_here" is not a role on pg`) {
		t.Fatalf("apply with a missing role: %+v", r)
	}
	// The password comes from the environment; without it, unreachable.
	delete(s.env, "PACE_PG_PASSWORD")
	if r := s.pace("list", "schemas", "-p", "pg"); r.code != ExitUnreachable || !strings.Contains(r.err, "PACE_PG_PASSWORD is not set") {
		t.Fatalf("no password: %+v", r)
	}
	// A platform nobody listens on.
	os.WriteFile(filepath.Join(s.dir, "config.yaml"), []byte("processing_platforms:\n  - id: pg\n    type: postgres\n    dsn: postgres://pace:secret@127.0.0.1:1/app?sslmode=disable&connect_timeout=2\n"), 0o600)
	r := s.pace("list", "schemas", "-p", "pg")
	if r.code != ExitUnreachable || !strings.Contains(r.err, "127.0.0.1:1") {
		t.Fatalf("unreachable: %+v", r)
	}
	if strings.Contains(r.err, "secret") {
		t.Fatalf("the password leaked into an error: %s", r.err)
	}
}

// Hostile names and values: refused or quoted; the source table survives.
func TestHostilePolicies(t *testing.T) {
	s, conn := pgSandbox(t)
	ctx := context.Background()
	conn.Exec(ctx, `create role "x'); drop table public.demo; --" nologin`)
	src, _ := os.ReadFile(demoPolicyFile())
	hostile := strings.NewReplacer(
		"group: marketing}", `group: "x'); drop table public.demo; --"}`,
		"value: '****'", `value: "'; drop table public.demo; --\\"`,
		"integration_fqn: public.demo_view", `integration_fqn: 'public.v"; drop table demo; --'`,
	).Replace(string(src))
	file := filepath.Join(t.TempDir(), "hostile.yaml")
	os.WriteFile(file, []byte(hostile), 0o600)
	if r := s.pace("upsert", "data-policy", file); r.code != 0 {
		t.Fatalf("upsert: %+v", r)
	}
	if r := s.pace("apply", "data-policy", "public-demo"); r.code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from public.demo").Scan(&n); err != nil || n != 4 {
		t.Fatalf("the source table did not survive: %d, %v", n, err)
	}
	// A dotted view name is refused: names with dots are not supported.
	dotted := strings.Replace(hostile, `v"; drop table demo; --`, `v; drop table public.demo`, 1)
	os.WriteFile(file, []byte(dotted), 0o600)
	if r := s.pace("upsert", "data-policy", file); r.code != ExitInvalid || !strings.Contains(r.err, "must be schema.name") {
		t.Fatalf("dotted view name: %+v", r)
	}
	// dave gets the default email: the hostile fixed value, verbatim, as data.
	tx, _ := conn.Begin(ctx)
	defer tx.Rollback(ctx)
	tx.Exec(ctx, "set local role dave")
	var email string
	if err := tx.QueryRow(ctx, `select email from public."v""; drop table demo; --" where transactionid = 4`).Scan(&email); err != nil {
		t.Fatalf("the view with a hostile name: %v", err)
	}
	if email != `'; drop table public.demo; --\` {
		t.Fatalf("fixed value read back as %q", email)
	}
	// Names PostgreSQL would cut short are refused before reaching it.
	long := strings.Replace(string(src), "group: marketing}", "group: "+strings.Repeat("m", 70)+"}", 1)
	os.WriteFile(file, []byte(long), 0o600)
	if r := s.pace("upsert", "data-policy", file); r.code != ExitInvalid || !strings.Contains(r.err, "63 bytes") {
		t.Fatalf("long group: %+v", r)
	}
}

// catalog describes what an attack could change: the roles and their
// memberships, the schemas, every relation of the database with its kind,
// privileges and (for views) definition, functions, and the source
// table's rows.
func catalog(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) string {
	t.Helper()
	var s string
	err := q.QueryRow(context.Background(), `select string_agg(x, E'\n' order by x) from (
		select 'role ' || rolname || ' ' || rolsuper || rolcreaterole || rolcreatedb || rolcanlogin || rolbypassrls as x from pg_roles
		union all select 'member ' || m.roleid::regrole || ' ' || m.member::regrole from pg_auth_members m
		union all select 'schema ' || nspname || ' ' || nspowner::regrole || ' ' || coalesce(nspacl::text, '') from pg_namespace
		union all select 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' ' || c.relowner::regrole || ' ' || coalesce(c.relacl::text, '')
			|| case when c.relkind = 'v' then ' ' || pg_get_viewdef(c.oid) else '' end
			from pg_class c join pg_namespace n on n.oid = c.relnamespace
			where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
		union all select 'function ' || p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
			where n.nspname not in ('pg_catalog', 'information_schema')
		union all select 'rows ' || count(*) || ' ' || md5(string_agg(d::text, ',' order by transactionid)) from public.demo d
	) s`).Scan(&s)
	if err != nil {
		t.Fatalf("reading the catalog: %v", err)
	}
	return s
}

// A condition or sql_statement is the author's expression and nothing
// more. Each attack below closes the brackets around it and goes on; each
// would have worked when apply sent the script as one multi-statement
// Exec (checked first, in a transaction rolled back). Now apply refuses
// it, naming the field, and changes nothing, whether the platform's login
// has only what apply needs or is a superuser.
func TestPolicySQLCannotBreakOut(t *testing.T) {
	type attack struct {
		name, field, sql string
		script           bool // breaks out of the view: check that it works as a script
	}
	const (
		cond = "rule_sets[0].filters[0].generic_filter.conditions[0].condition"
		stmt = "rule_sets[0].field_transforms[2].transforms[0].sql_statement.statement"
		// The rest of the view follows a condition: these keep it valid SQL.
		tail = "; select 1 from (select now() as ts) t where ((true"
		// ...and an sql_statement.
		stmtTail = "; select case when true then (brand"
	)
	// Break-outs of the view.
	breakOuts := []attack{
		// As filed: the retention filter after it leaves the script invalid
		// here, so it is not checked as one; the next is the same, made whole.
		{"issue 12 as filed", cond, "age > 18)); create table public.unmasked as select * from public.demo; grant select on public.unmasked to public; select ((true", false},
		{"issue 12", cond, "age > 18)); create table public.unmasked as select * from public.demo; grant select on public.unmasked to public" + tail, true},
		{"line comment", cond, "age > 18)); delete from public.demo" + tail + " -- adults only", true},
		{"block comments", cond, "age > 18)) /* ) */; create table public.unmasked (x int); /* ( */" + tail[1:], true},
		{"nested block comment", cond, "age > 18)) /* /* ) */ */; alter table public.demo owner to pace_applier" + tail, true},
		{"dollar quotes", cond, "age > 18)); do $$ begin execute 'create table public.unmasked as select * from public.demo'; end $$" + tail, true},
		{"tagged dollar quotes", cond, "$x$)$x$ <> '')); create role pace_evil superuser login" + tail + " and $x$($x$ <> ''", true},
		{"backslash", cond, `'\' <> '')); create table public.unmasked (x int)` + tail + ` and '\' <> ''`, true},
		{"E string", cond, `E'\'' <> '')); create schema evil` + tail + ` and E'\'' <> ''`, true},
		{"nested parentheses", cond, "((((age > 18)))))); create table public.unmasked (x int); select 1 from (select now() as ts) t where ((((((true))))", true},
		{"one statement: union", cond, "age > 18)) union all select * from public.demo where ((true", true},
		{"sql_statement", stmt, "brand) end as brand from public.demo; create table public.unmasked as select * from public.demo; grant select on public.unmasked to public" + stmtTail, true},
		{"sql_statement with a comment", stmt, "brand) end as brand from public.demo; create role pace_evil login superuser" + stmtTail + " -- x", true},
		{"sql_statement, one statement", stmt, "brand) end as brand, ts from public.demo union all select transactionid, userid, email, age, case when true then (brand", true},
	}
	// Aimed at the check itself, whose parentheses are one deep.
	aimedAtTheCheck := []attack{
		{"second statement", cond, "age > 18); create table public.unmasked (x int); select (true", false},
		{"second column", cond, "age > 18) as a, (true", false},
		{"union", cond, "true) from public.demo union all select (true", false},
		{"union, named", cond, `true) as "pace_x" from public.demo union all select (true`, false},
		{"statement in a subquery", cond, "(select 1; drop table public.demo) = 1", false},
		{"sql_statement, second column", stmt, "brand) as b, (email", false},
	}
	logins := []struct {
		name, user string
	}{{"least-privileged", "pace_applier"}, {"superuser", "postgres"}}
	for _, login := range logins {
		t.Run(login.name, func(t *testing.T) {
			s, conn := pgSandbox(t)
			ctx := context.Background()
			// The least a login needs to apply: create in the schema, read
			// the source (for the view to show it).
			for _, sql := range []string{
				`do $$ begin if not exists (select from pg_roles where rolname = 'pace_applier') then create role pace_applier login; end if; end $$`,
				`grant create on schema public to pace_applier`,
				`grant select on public.demo to pace_applier`,
			} {
				if _, err := conn.Exec(ctx, sql); err != nil {
					t.Fatal(err)
				}
			}
			cfgPath := filepath.Join(s.dir, "config.yaml")
			cfg, _ := os.ReadFile(cfgPath)
			os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), "postgres://postgres@", "postgres://"+login.user+"@", 1)), 0o600)

			// The demo policy with one condition, the default (the view has
			// ((condition))), and the sql_statement for marketing's brand.
			src, _ := os.ReadFile(demoPolicyFile())
			variant := func(condition, statement string) *policy.DataPolicy {
				p, err := policy.Parse(src, "demo")
				if err != nil {
					t.Fatal(err)
				}
				p.RuleSets[0].Filters[0].GenericFilter.Conditions = []policy.Condition{{Condition: condition}}
				p.RuleSets[0].FieldTransforms[2].Transforms[0].SQLStatement.Statement = statement
				return p
			}
			const plainCond, plainStmt = "age > 18", "brand"
			file := filepath.Join(t.TempDir(), "policy.yaml")
			upsert := func(p *policy.DataPolicy) {
				t.Helper()
				data, _ := yaml.Marshal(p)
				os.WriteFile(file, data, 0o600)
				if r := s.pace("upsert", "data-policy", file); r.code != 0 {
					t.Fatalf("upsert: %+v", r)
				}
			}
			upsert(variant(plainCond, plainStmt))
			if r := s.pace("apply", "data-policy", "public-demo"); r.code != 0 {
				t.Fatalf("apply of the plain policy as %s: %+v", login.user, r)
			}
			before := catalog(t, conn)

			for _, a := range append(breakOuts, aimedAtTheCheck...) {
				p := variant(a.sql, plainStmt)
				if a.field == stmt {
					p = variant(plainCond, a.sql)
				}
				if a.script {
					// The attack is real: the script, run as one Exec,
					// runs and changes the catalog.
					tx, err := conn.Begin(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := tx.Exec(ctx, policy.Transpile(p)); err != nil {
						t.Fatalf("%s: the attack does not work as a script, so it tests nothing: %v\n%s", a.name, err, policy.Transpile(p))
					}
					if catalog(t, tx) == before {
						t.Fatalf("%s: the attack changes nothing even as a script", a.name)
					}
					tx.Rollback(ctx)
				}

				upsert(p)
				r := s.pace("apply", "data-policy", "public-demo")
				if r.code != ExitInvalid || !strings.Contains(r.err, a.field+": is not one") {
					t.Errorf("%s: apply as %s = %+v, want exit %d naming %s", a.name, login.user, r, ExitInvalid, a.field)
				}
				if after := catalog(t, conn); after != before {
					t.Fatalf("%s: apply as %s changed the catalog:\nbefore:\n%s\nafter:\n%s", a.name, login.user, before, after)
				}
			}

			// Expressions that are wrong in other ways are named too.
			for _, c := range []struct {
				p          *policy.DataPolicy
				field, msg string
			}{
				{variant("age", plainStmt), cond, "is of type int4; a condition must be boolean"},
				{variant(plainCond, "brnad"), stmt, `is not one valid SQL expression over public.demo: column "brnad" does not exist`},
				{variant(plainCond, "$1"), stmt, "uses a parameter"},
				// One error does not hide the next.
				{variant("age >", "brnad"), stmt, `is not one valid SQL expression over public.demo: column "brnad" does not exist` + "\n  " + cond + `: is not one valid SQL expression over public.demo: syntax error at or near ")"`},
			} {
				upsert(c.p)
				if r := s.pace("apply", "data-policy", "public-demo"); r.code != ExitInvalid || !strings.Contains(r.err, c.field+": "+c.msg) {
					t.Errorf("apply = %+v, want exit %d and %s: %s", r, ExitInvalid, c.field, c.msg)
				}
			}
			if after := catalog(t, conn); after != before {
				t.Fatalf("a refused policy changed the catalog:\nbefore:\n%s\nafter:\n%s", before, after)
			}

			// Quotes, comments and brackets inside one expression are fine.
			upsert(variant(
				`email not like '%;--%' and brand <> $$)$$ /* ) ; */ and age > 18 -- adults`,
				`CASE WHEN brand = E'\x4dC' THEN $t$Master;Card$t$ || ')' ELSE brand END`))
			if r := s.pace("apply", "data-policy", "public-demo"); r.code != 0 {
				t.Fatalf("apply of a tricky but honest policy: %+v", r)
			}
			if bob := rowsAs(t, conn, "bob"); len(bob) != 2 || bob[0]["brand"] != "Master;Card)" {
				t.Fatalf("bob sees %v", bob)
			}
		})
	}
}
