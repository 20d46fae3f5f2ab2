package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/telemetry"
)

// The erasure request end to end, with the real binaries: pace writes the
// request, pace-telemetryd sends it (through a receiver failing twice),
// the real receiver deletes the install's rows in a real PostgreSQL.

const forgetKey = "forget-test-key-0123456789abcdef"

// startPGReceiver runs the receiver with a PostgreSQL sink on a fresh
// database and returns it, the database's DSN and the receiver's log.
func startPGReceiver(t *testing.T) (*receiver, string, *servertest.SyncBuffer) {
	t.Helper()
	srv := servertest.SharedPostgres(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, srv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	db := fmt.Sprintf("forget_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	dsn := srv.DSN(db)
	addr := freePort(t)
	r := &receiver{url: "http://" + addr + "/telemetry"}
	log := &servertest.SyncBuffer{}
	cmd := exec.Command(bin.receiver)
	cmd.Env = append(os.Environ(), "PORT="+strings.Split(addr, ":")[1], "TELEMETRY_SINK="+dsn, "TELEMETRY_ID_KEY="+forgetKey)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, "the receiver to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return r, dsn, log
}

// rows counts the rows of each table, and usage_daily's summed runs.
func rows(t *testing.T, dsn string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	out := map[string]int64{}
	for name, q := range map[string]string{"install_state": "SELECT count(*) FROM install_state", "active_daily": "SELECT count(*) FROM active_daily",
		"usage_daily": "SELECT count(*) FROM usage_daily", "counters": "SELECT coalesce(sum(cardinality(counter_paths)), 0) FROM install_state"} {
		var n int64
		if err := c.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	var runs int64
	if err := c.QueryRow(ctx, "SELECT coalesce(sum(runs), 0)::bigint FROM usage_daily").Scan(&runs); err != nil {
		t.Fatal(err)
	}
	out["runs"] = runs
	return out
}

// keyRows counts the rows kept under id's install key in the
// per-install tables.
func keyRows(t *testing.T, dsn, id string) int64 {
	t.Helper()
	m := hmac.New(sha256.New, []byte(forgetKey))
	m.Write([]byte(id))
	key := m.Sum(nil)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	err = c.QueryRow(ctx, `SELECT (SELECT count(*) FROM install_state WHERE install_key = $1)
		+ (SELECT coalesce(sum(cardinality(counter_paths)), 0) FROM install_state WHERE install_key = $1)
		+ (SELECT count(*) FROM active_daily WHERE install_key = $1)`, key).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func paceOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin.pace, args...)
	cmd.Env = []string{"PACE_CONFIG_PATH=" + dir, "PATH=" + filepath.Dir(bin.daemon)}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pace %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func currentID(t *testing.T, dir string) string {
	t.Helper()
	p, err := (&telemetry.Store{Dir: dir}).Load()
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func TestForgetEndToEnd(t *testing.T) {
	r, dsn, rlog := startPGReceiver(t)
	f := newFaulty(t, r.url, "500", "500")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(l)
	defer srv.Close()
	endpoint := "http://" + l.Addr().String() + "/telemetry"

	dir := t.TempDir()
	// Another install, which the erasure must leave alone.
	other := t.TempDir()
	runPace(t, other, "version")
	runPace(t, dir, "version")
	runPace(t, dir, "version")
	runPace(t, dir, "lsit")
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, d := range []string{dir, other} {
		if code, out := daemonCmd(t, env, "flush", "--config-path", d, "--endpoint", r.url); code != 0 {
			t.Fatalf("flush: %d %s", code, out)
		}
	}
	before := rows(t, dsn)
	if before["install_state"] != 2 || before["counters"] != 3 || before["active_daily"] != 2 || before["runs"] != 4 {
		t.Fatalf("before: %v", before)
	}

	old := currentID(t, dir)
	out := paceOut(t, dir, "telemetry", "forget")
	fresh := currentID(t, dir)
	if fresh == old || !strings.Contains(out, old) || !strings.Contains(out, "new id "+fresh) {
		t.Fatalf("forget said:\n%s(old %s, now %s)", out, old, fresh)
	}
	if p, _ := (&telemetry.Store{Dir: dir}).Load(); p.Counters() != 0 {
		t.Fatalf("counts kept after forget: %d", p.Counters())
	}
	req, err := os.ReadFile(filepath.Join(dir, "telemetry-forget.json"))
	if err != nil || !strings.Contains(string(req), old) {
		t.Fatalf("request file: %v\n%s", err, req)
	}
	if got := rows(t, dsn); got["install_state"] != 2 {
		t.Fatalf("pace sent something itself: %v", got)
	}
	if st := paceOut(t, dir, "telemetry", "status"); !strings.Contains(st, "erasure:") || !strings.Contains(st, "not sent yet") || strings.Contains(st, old) {
		t.Fatalf("status while pending:\n%s", st)
	}

	// The daemon sends it, through two failures, with backoff.
	d := startDaemon(t, dir, endpoint, fastRetries...)
	eventually(t, "the erasure to be confirmed", func() bool {
		_, err := os.Stat(filepath.Join(dir, "telemetry-forget.json"))
		return os.IsNotExist(err)
	})
	if !f.done() {
		t.Fatal("confirmed without going through the failures")
	}
	if n := keyRows(t, dsn, old); n != 0 {
		t.Fatalf("%d rows left under the erased id's key", n)
	}
	// Left: the other install, and the new id (its one count: the status
	// run above); the aggregates keep every increment, the erased
	// install's included.
	eventually(t, "the new id's count", func() bool { return rows(t, dsn)["runs"] == before["runs"]+1 })
	after := rows(t, dsn)
	if after["install_state"] != 2 || after["counters"] != 2 || after["active_daily"] != 2 || keyRows(t, dsn, fresh) != 3 {
		t.Fatalf("after: %v, before %v", after, before)
	}
	eventually(t, "the daemon to log the confirmation", func() bool {
		return strings.Contains(d.log.String(), "confirmed an erasure request: active_daily 1, command_daily 2, crash_daily 0, install_day 1, install_state 1")
	})
	if !strings.Contains(d.log.String(), "500 Internal Server Error") {
		t.Errorf("daemon log lacks the failures:\n%s", d.log.String())
	}
	sent, _ := os.ReadFile(filepath.Join(dir, "telemetry-sent.log"))
	entries := strings.Split(string(sent), "\n\n")
	var forgets []string
	for _, e := range entries {
		if strings.Contains(e, "/telemetry/forget") {
			forgets = append(forgets, e)
		}
	}
	// The faults fall on whichever request comes: at least the first
	// erasure request fails.
	if len(forgets) < 2 || !strings.Contains(forgets[0], "HTTP 500") || !strings.Contains(forgets[len(forgets)-1], "HTTP 200: erased active_daily 1, command_daily 2, crash_daily 0, install_day 1, install_state 1") {
		t.Fatalf("sent log's erasure entries: %q", forgets)
	}
	for _, e := range forgets {
		if strings.Contains(e, old) {
			t.Fatalf("the sent log keeps the erased id: %q", e)
		}
	}
	if strings.Contains(rlog.String(), old) || !strings.Contains(rlog.String(), `"erasure":true`) {
		t.Fatalf("receiver log (must hold the erasure, never the id):\n%s", rlog.String())
	}
	if st := paceOut(t, dir, "telemetry", "status"); strings.Contains(st, "erasure:") {
		t.Fatalf("status after the confirmation:\n%s", st)
	}
	// That status run is counted too, and the running daemon delivers it.
	eventually(t, "the second status run's count", func() bool { return rows(t, dsn)["runs"] == before["runs"]+2 })

	// PACE's original fleet (POST /telemetry) keeps uploading as before.
	runPace(t, other, "version")
	if code, out := daemonCmd(t, env, "flush", "--config-path", other, "--endpoint", r.url); code != 0 {
		t.Fatalf("flush: %d %s", code, out)
	}
	if got := rows(t, dsn); got["runs"] != before["runs"]+3 {
		t.Fatalf("after new uploads: %v", got)
	}

	// Forgetting an id the receiver never saw answers the same: every
	// table, with zeros; flush confirms it.
	never := t.TempDir()
	runPace(t, never, "version")
	paceOut(t, never, "telemetry", "forget")
	code, fout := daemonCmd(t, env, "flush", "--config-path", never, "--endpoint", r.url)
	if code != 0 || !strings.Contains(fout, "Erasure confirmed by the receiver: active_daily 0, command_daily 0, crash_daily 0, install_day 0, install_state 0.") {
		t.Fatalf("flush of an unknown id's erasure: %d %s", code, fout)
	}
}

// On a TSDB sink (here the Graphite one), the receiver answers that its
// store cannot erase, naming the store's admin deletion; the daemon stops
// retrying at once, and both status commands say why.
func TestForgetOnTSDBSink(t *testing.T) {
	r := startReceiver(t)
	dir := t.TempDir()
	runPace(t, dir, "version")
	paceOut(t, dir, "telemetry", "forget")
	d := startDaemon(t, dir, r.url, fastRetries...)
	eventually(t, "the daemon to stop the request", func() bool { return strings.Contains(d.log.String(), "not sent again") })
	time.Sleep(500 * time.Millisecond) // more than the backoff's most: no retry may follow
	if n := strings.Count(d.log.String(), "not sent again"); n != 1 {
		t.Fatalf("the request was retried (%d times):\n%s", n, d.log.String())
	}
	st := paceOut(t, dir, "telemetry", "status")
	if !strings.Contains(st, "stopped: the receiver cannot erase from its store") || !strings.Contains(st, "whisper files") {
		t.Fatalf("pace telemetry status:\n%s", st)
	}
	var js struct {
		Erasure []string `json:"erasure_requests"`
	}
	if err := json.Unmarshal([]byte(paceOut(t, dir, "telemetry", "status", "-o", "json")), &js); err != nil || len(js.Erasure) != 1 || !strings.Contains(js.Erasure[0], "stopped: ") {
		t.Fatalf("pace telemetry status -o json: %v %q", err, js.Erasure)
	}
	code, out := daemonCmd(t, []string{"PATH=" + os.Getenv("PATH")}, "status", "--config-path", dir, "--endpoint", r.url)
	if code != 0 || !strings.Contains(out, "erasure:") || !strings.Contains(out, "Graphite") {
		t.Fatalf("pace-telemetryd status: %d\n%s", code, out)
	}
	sent, _ := os.ReadFile(filepath.Join(dir, "telemetry-sent.log"))
	if !strings.Contains(string(sent), "/forget") || !strings.Contains(string(sent), "HTTP 501") {
		t.Fatalf("sent log:\n%s", sent)
	}
}
