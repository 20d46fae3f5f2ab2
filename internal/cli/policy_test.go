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

	"github.com/pace-cli/pace/internal/pgtest"
	"github.com/pace-cli/pace/internal/policy"
)

// pgSandbox is a sandbox whose config.yaml names a real PostgreSQL as
// processing platform pg, with a fresh database holding public.demo and
// the roles of the demo policy.
func pgSandbox(t *testing.T) (*sandbox, *pgx.Conn) {
	t.Helper()
	srv := pgtest.Shared(t)
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
