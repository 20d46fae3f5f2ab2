package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.Run(m)) }

// newFromEnv is what the function's shim and cmd/receiver do: one Config,
// one Receiver, nothing opened.
func newFromEnv(t *testing.T, env map[string]string, stdout io.Writer, log io.Writer) *Receiver {
	t.Helper()
	cfg, err := LoadConfig(func(k string) string { return env[k] }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(cfg, Options{Stdout: stdout, Logger: NewLogger(log), Commands: []string{"pace", "pace version"}, OpenTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func get(h http.Handler, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

func postTo(h http.Handler, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// criticalLines returns the log's CRITICAL lines.
func criticalLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["severity"] == "CRITICAL" {
			out = append(out, m)
		}
	}
	return out
}

// A store that cannot be reached is not a crash: building the receiver
// opens nothing; each request gets 503 with Retry-After and a CRITICAL
// line with the reason, and the next request tries again. /healthz says
// the process is up, /readyz that the store is not.
func TestUnreachableStoreIs503AndRetried(t *testing.T) {
	var log servertest.SyncBuffer
	dead := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	r := newFromEnv(t, map[string]string{"TELEMETRY_SINK": "postgres://pace@" + dead + "/telemetry?sslmode=disable&connect_timeout=2",
		"TELEMETRY_ID_KEY": "0123456789abcdef0123456789abcdef"}, io.Discard, &log)
	if log.String() != "" {
		t.Fatalf("building the receiver logged (and so did something): %s", log.String())
	}
	for i := 1; i <= 2; i++ {
		w := postTo(r, "/", e2eBody)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "60" || !strings.Contains(w.Body.String(), `"error":"sink: unavailable; retry later"`) {
			t.Fatalf("upload %d: %d %q Retry-After=%q", i, w.Code, w.Body, w.Header().Get("Retry-After"))
		}
		crit := criticalLines(t, log.String())
		if len(crit) != i || !strings.Contains(fmt.Sprint(crit[i-1]["error"]), dead) {
			t.Fatalf("after upload %d, CRITICAL lines %v, want %d naming %s", i, crit, i, dead)
		}
	}
	if w := postTo(r, "/telemetry/forget", `{"id":"`+testID+`"}`); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("erasure: %d %q", w.Code, w.Body)
	}
	if strings.Contains(log.String(), testID) {
		t.Fatalf("the log holds the id: %s", log.String())
	}
	if w := get(r, "/healthz"); w.Code != 200 || w.Body.String() != "ok\n" {
		t.Fatalf("healthz: %d %q", w.Code, w.Body)
	}
	if w := get(r, "/readyz"); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), dead) {
		t.Fatalf("readyz: %d %q (want 503, without the store's address)", w.Code, w.Body)
	}
}

// /readyz follows the store: 503 while carbon's port is closed, 200 once
// it listens; uploads still go to every other path.
func TestReadyzFollowsTheStore(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	var stdout servertest.SyncBuffer
	r := newFromEnv(t, map[string]string{"TELEMETRY_SINK": "carbon+tcp://" + addr}, &stdout, io.Discard)
	if w := get(r, "/readyz"); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("readyz with carbon down: %d %q", w.Code, w.Body)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	if w := get(r, "/readyz"); w.Code != 200 {
		t.Fatalf("readyz with carbon up: %d %q", w.Code, w.Body)
	}
	for _, path := range []string{"/", "/telemetry", "/healthz/x"} {
		if w := postTo(r, path, e2eBody); w.Code != 200 || w.Body.String() != "OK" {
			t.Fatalf("upload to %s: %d %q", path, w.Code, w.Body)
		}
	}
}

// Close waits for the store, closes it once, and later requests get 503.
func TestCloseClosesTheStore(t *testing.T) {
	var stdout servertest.SyncBuffer
	r := newFromEnv(t, map[string]string{}, &stdout, io.Discard)
	if w := postTo(r, "/", e2eBody); w.Code != 200 {
		t.Fatalf("upload: %d %q", w.Code, w.Body)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if w := postTo(r, "/", e2eBody); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("upload after Close: %d %q", w.Code, w.Body)
	}
}

// storeCase is one store TELEMETRY_SINK can name, on its real server.
type storeCase struct {
	name string
	// start starts the server and returns the environment naming it.
	start func(t *testing.T) map[string]string
	// stored tells whether the upload reached the store, and health
	// whether its accepted outcome did; stdout is what the store printed.
	stored, health func(t *testing.T, env map[string]string, stdout string) bool
	erases         bool // else 501 naming the store's admin API
}

func storeCases() []storeCase {
	return []storeCase{
		{
			name:  "stdout",
			start: func(*testing.T) map[string]string { return map[string]string{"TELEMETRY_SINK": "stdout"} },
			stored: func(_ *testing.T, _ map[string]string, out string) bool {
				return strings.Contains(out, "pace.cli.invocations;")
			},
			// The stdout store, for development, carries usage only.
			health: func(_ *testing.T, _ map[string]string, out string) bool {
				return !strings.Contains(out, "pace.receiver.uploads")
			},
		},
		{
			name: "carbon",
			start: func(t *testing.T) map[string]string {
				needBinaries(t, "carbon-cache", "whisper-fetch")
				dir := t.TempDir()
				linePort, _ := writeCarbonConf(t, dir, "1s:2h", "WHISPER_AUTOFLUSH = True\n")
				addr := fmt.Sprintf("127.0.0.1:%d", linePort)
				startServer(t, dir, addr, "carbon-cache", "--config="+filepath.Join(dir, "carbon.conf"), "--debug", "start")
				return map[string]string{"TELEMETRY_SINK": "carbon+tcp://" + addr, "dir": dir}
			},
			// Two usage series and one health series, each its whisper file.
			stored: func(t *testing.T, env map[string]string, _ string) bool {
				return whisperFiles(env["dir"]) >= len(e2eWant)
			},
			health: func(t *testing.T, env map[string]string, _ string) bool {
				return whisperFiles(env["dir"]) == len(e2eWant)+1
			},
		},
		{
			name: "graphite-http",
			start: func(t *testing.T) map[string]string {
				// No Graphite HTTP API runs offline: a stand-in that checks
				// the documented wire format (as TestGrafanaSinkThroughHandler).
				var mu sync.Mutex
				var bodies []string
				api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if u, k, _ := r.BasicAuth(); u != "123" || k != "key" || r.Header.Get("Content-Type") != "application/json" {
						http.Error(w, "authentication error", http.StatusUnauthorized)
						return
					}
					b, _ := io.ReadAll(r.Body)
					mu.Lock()
					bodies = append(bodies, string(b))
					mu.Unlock()
					io.WriteString(w, `{"invalid":0,"published":1}`)
				}))
				t.Cleanup(api.Close)
				httpBodies = func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(bodies, "\n") }
				return map[string]string{"TELEMETRY_SINK": api.URL + "/graphite/metrics", "GRAPHITE_USER": "123", "GRAPHITE_API_KEY": "key"}
			},
			stored: func(*testing.T, map[string]string, string) bool {
				return strings.Contains(httpBodies(), `"name":"pace.cli.invocations"`)
			},
			health: func(*testing.T, map[string]string, string) bool {
				return strings.Contains(httpBodies(), `"name":"pace.receiver.uploads"`)
			},
		},
		{
			name: "prometheus",
			start: func(t *testing.T) map[string]string {
				needBinaries(t, "prometheus")
				base := startPrometheus(t)
				return map[string]string{"TELEMETRY_SINK": "prometheus+" + base + "/api/v1/write", "base": base}
			},
			stored: func(t *testing.T, env map[string]string, _ string) bool {
				return len(promQuery(t, env["base"], "pace_cli_invocations_total", time.Now())) == len(e2eWant)
			},
			health: func(t *testing.T, env map[string]string, _ string) bool {
				return len(promQuery(t, env["base"], `pace_receiver_uploads_total{outcome="accepted"}`, time.Now())) == 1
			},
		},
		{
			name: "postgres",
			start: func(t *testing.T) map[string]string {
				return map[string]string{"TELEMETRY_SINK": servertest.NewDatabase(t), "TELEMETRY_ID_KEY": "0123456789abcdef0123456789abcdef"}
			},
			stored: func(t *testing.T, env map[string]string, _ string) bool {
				return pgCount(t, env["TELEMETRY_SINK"], `SELECT count(*) FROM install_state`) == 1
			},
			health: func(t *testing.T, env map[string]string, _ string) bool {
				return pgCount(t, env["TELEMETRY_SINK"], `SELECT coalesce(sum(uploads), 0) FROM receiver_health WHERE outcome = 'accepted'`) == 1
			},
			erases: true,
		},
	}
}

// httpBodies returns what the Graphite HTTP stand-in was sent.
var httpBodies func() string

func whisperFiles(dir string) int {
	n := 0
	filepath.Walk(filepath.Join(dir, "storage", "whisper"), func(p string, _ os.FileInfo, _ error) error {
		if strings.HasSuffix(p, ".wsp") {
			n++
		}
		return nil
	})
	return n
}

func pgCount(t *testing.T, dsn, q string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls ok until it holds or e2eWait passes.
func eventually(ok func() bool) bool {
	for deadline := time.Now().Add(e2eWait); ; time.Sleep(100 * time.Millisecond) {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// TestEveryStoreDoesItsDuties walks every store the configuration can
// name, each on its real server, through the Receiver as deployed: ready
// (/readyz), write (an upload), health (the accepted outcome recorded),
// erase (200 with the rows deleted, or 501 naming the store's admin API)
// and close. A store kind without a case fails the test: adding a store
// means adding its case here.
func TestEveryStoreDoesItsDuties(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range storeCases() {
		t.Run(c.name, func(t *testing.T) {
			env := c.start(t)
			cfg, err := LoadConfig(func(k string) string { return env[k] }, os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			covered[cfg.storeKind().name] = true
			var stdout, log servertest.SyncBuffer
			r, err := New(cfg, Options{Stdout: &stdout, Logger: NewLogger(&log), Commands: []string{"pace", "pace version"}})
			if err != nil {
				t.Fatal(err)
			}
			if w := get(r, "/readyz"); w.Code != 200 {
				t.Fatalf("readyz: %d %q; log: %s", w.Code, w.Body, log.String())
			}
			if w := postTo(r, "/telemetry", e2eBody); w.Code != 200 || w.Body.String() != "OK" {
				t.Fatalf("upload: %d %q; log: %s", w.Code, w.Body, log.String())
			}
			if !eventually(func() bool { return c.stored(t, env, stdout.String()) }) {
				t.Error("the upload did not reach the store")
			}
			if !eventually(func() bool { return c.health(t, env, stdout.String()) }) {
				t.Error("the accepted outcome was not recorded as the store records health")
			}
			w := postTo(r, "/telemetry/forget", `{"id":"`+testID+`"}`)
			if c.erases {
				var ans struct{ Erased map[string]int64 }
				if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &ans) != nil || ans.Erased["install_state"] != 1 {
					t.Errorf("erasure: %d %s", w.Code, w.Body)
				}
			} else if w.Code != http.StatusNotImplemented || !strings.Contains(w.Body.String(), "admin") && !strings.Contains(w.Body.String(), "delSeries") {
				t.Errorf("erasure: %d %s, want 501 naming the store's own deletion", w.Code, w.Body)
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if w := get(r, "/readyz"); w.Code != http.StatusServiceUnavailable {
				t.Errorf("readyz after Close: %d", w.Code)
			}
		})
	}
	for _, k := range storeKinds() {
		if !covered[k.name] {
			t.Errorf("store %q has no case in storeCases", k.name)
		}
	}
	// Any other TELEMETRY_SINK value stops the start, naming the variable.
	for _, spec := range []string{"udp://127.0.0.1:2003", "ftp://x", "postgres://u@h:notaport/db", "prometheus+ftp://h/"} {
		env := map[string]string{"TELEMETRY_SINK": spec, "TELEMETRY_ID_KEY": "0123456789abcdef0123456789abcdef"}
		if _, err := LoadConfig(func(k string) string { return env[k] }, os.ReadFile); err == nil || !strings.Contains(err.Error(), "TELEMETRY_SINK") {
			t.Errorf("TELEMETRY_SINK=%s: %v, want an error naming TELEMETRY_SINK", spec, err)
		}
	}
}
