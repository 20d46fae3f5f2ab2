//go:build unix

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/servertest"
)

// Killed mid-batch: a batch's transaction is held open, at the shared
// usage_daily rows every batch adds to (a test connection holds their
// locks), after it has written its installs' rows; then the receiver is
// killed -9, or PostgreSQL crashes. The batch's uploads get no 200. Sent
// again later, as the daemon does, with their cumulative counts grown
// since, every run is counted exactly once: the aborted transaction left
// nothing, and the counts are cumulative.
func TestKilledMidBatchLosesNothing(t *testing.T) {
	for _, fault := range []string{"receiver killed -9", "PostgreSQL crashed"} {
		t.Run(strings.Fields(fault)[0], func(t *testing.T) { killedMidBatch(t, fault) })
	}
}

func killedMidBatch(t *testing.T, fault string) {
	ctx := context.Background()
	pg := servertest.StartPostgres(t, servertest.Setting("fsync", "on"), servertest.Setting("full_page_writes", "on"))
	dsn := pg.DSN("postgres")
	port := strconv.Itoa(servertest.FreePort(t))
	url := "http://127.0.0.1:" + port + "/"
	var log servertest.SyncBuffer
	start := func() *exec.Cmd {
		cmd := exec.Command(servertest.Program(t, "."))
		cmd.Env = append(os.Environ(), "PORT="+port, "TELEMETRY_SINK="+dsn, "TELEMETRY_ID_KEY=midbatch-key-0123456789abcdef", "TELEMETRY_TIMEOUT=30")
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		servertest.WaitListening(t, "127.0.0.1:"+port)
		return cmd
	}
	rcv := start()

	const installs = 8
	paths := []string{"pace version", "pace list tables", "pace get data-policy"}
	post := func(i, round int) error {
		var pts []string
		for _, p := range paths {
			pts = append(pts, fmt.Sprintf(`%q:{"0":{"cumulative_count":%d}}`, p, round))
		}
		body := fmt.Sprintf(`{"metric_points":{%s},"cli_version":"v1.25.0","operating_system":"linux","id":"00000000-0000-4000-8000-%012d"}`, strings.Join(pts, ","), i)
		c := &http.Client{Timeout: 60 * time.Second}
		resp, err := c.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("answered %d", resp.StatusCode)
		}
		return nil
	}
	for i := range installs {
		if err := post(i, 1); err != nil {
			t.Fatalf("round 1: %v\n%s", err, log.String())
		}
	}

	// Hold the shared rows; round 2's batches stop at them.
	lock, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(ctx)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT * FROM usage_daily FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	answers := make([]error, installs)
	var wg sync.WaitGroup
	for i := range installs {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = post(i, 2) }()
	}
	// Mid-batch: a writer's transaction waits for the held rows, its
	// installs' rows written.
	var holder int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&holder); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var waiting int
		if err := lock.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, holder).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			rows, _ := lock.Query(ctx, `SELECT format('%s %s %s %s %s', pid, state, wait_event_type, wait_event, left(query, 60)) FROM pg_stat_activity WHERE datname IS NOT NULL`)
			activity, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			t.Fatalf("no batch reached the held rows in 60 s; sessions:\n%s\n%s", strings.Join(activity, "\n"), log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	switch fault {
	case "receiver killed -9":
		rcv.Process.Kill()
		rcv.Wait()
		tx.Rollback(ctx)
		wg.Wait()
		rcv = start()
	case "PostgreSQL crashed":
		if err := pg.Crash(); err != nil {
			t.Fatal(err)
		}
		wg.Wait() // answered 503 once its retries fail
		if err := pg.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	failed := 0
	for _, err := range answers {
		if err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatalf("every upload of round 2 was answered 200: the fault hit no batch\n%s", log.String())
	}

	// Round 3, sent until taken, as the daemon retries.
	deadline = time.Now().Add(60 * time.Second)
	for i := range installs {
		for {
			err := post(i, 3)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("install %d: round 3 not taken: %v\n%s", i, err, log.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var runs, stored int64
	if err := c.QueryRow(ctx, `SELECT (SELECT sum(runs) FROM usage_daily)::bigint, (SELECT sum(n) FROM install_state, unnest(counter_counts) AS n)::bigint`).Scan(&runs, &stored); err != nil {
		t.Fatal(err)
	}
	if want := int64(installs * len(paths) * 3); runs != want || stored != want {
		t.Fatalf("after %s mid-batch (%d of %d uploads unanswered): usage_daily counts %d runs, the installs' state %d; want %d each\n%s",
			fault, failed, installs, runs, stored, want, log.String())
	}
	t.Logf("%s mid-batch: %d of %d uploads unanswered, sent again, counted once", fault, failed, installs)
}
