package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/servertest"
)

// A crash of a real pace, end to end: pace counts it with its site, the
// daemon uploads both, the receiver stores the site under the install's
// keyed hash; the panic's text, which could be anything of the user's, is
// nowhere: not in the file, the sent log, the receiver's log or any table.
func TestCrashEndToEnd(t *testing.T) {
	crashPace := servertest.Program(t, "../pace", servertest.Tags("crashtest"))
	r, dsn, rlog := startPGReceiver(t)
	dir := t.TempDir()
	const secret = "s3cr3t-token-/home/alice/prod.yaml"
	for range 2 {
		cmd := exec.Command(crashPace, "version")
		cmd.Env = []string{"PACE_CONFIG_PATH=" + dir, "PATH=" + os.Getenv("PATH"), "PACE_CRASHTEST_PANIC=" + secret}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 70 || !strings.Contains(string(out), "panic: "+secret) {
			t.Fatalf("crashing pace: %v\n%s", err, out)
		}
	}
	if code, out := daemonCmd(t, []string{"PATH=" + os.Getenv("PATH")}, "flush", "--config-path", dir, "--endpoint", r.url); code != 0 {
		t.Fatalf("flush: %d %s", code, out)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var site string
	var crashes, runs int64
	if err := c.QueryRow(ctx, `SELECT site, crashes FROM crash_daily WHERE path = 'pace version'`).Scan(&site, &crashes); err != nil {
		t.Fatalf("crash_daily: %v", err)
	}
	if err := c.QueryRow(ctx, `SELECT sum(runs)::bigint FROM usage_daily WHERE path = 'pace version' AND exit_code = 70`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if crashes != 2 || runs != 2 || !strings.HasPrefix(site, "internal/cli.crashTest:+") {
		t.Fatalf("stored %d crashes at %q and %d runs with 70, want 2 at internal/cli.crashTest:+N…", crashes, site, runs)
	}
	// The secret, anywhere.
	for _, f := range []string{"telemetry.yaml", "telemetry-sent.log"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "crash") {
			t.Errorf("%s holds no crash site", f)
		}
		if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), "alice") {
			t.Errorf("%s holds the panic's text:\n%s", f, b)
		}
	}
	if strings.Contains(rlog.String(), "s3cr3t") || strings.Contains(rlog.String(), "alice") {
		t.Errorf("the receiver's log holds the panic's text:\n%s", rlog.String())
	}
	rows, err := c.Query(ctx, `SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		var all string
		if err := c.QueryRow(ctx, `SELECT coalesce(string_agg(x::text, E'\n'), '') FROM `+pgx.Identifier{table}.Sanitize()+` x`).Scan(&all); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(all, "s3cr3t") || strings.Contains(all, "alice") {
			t.Errorf("table %s holds the panic's text", table)
		}
	}
}
