package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/testenv"
	"github.com/pace-cli/pace/internal/upload"
)

// sink is a receiver that keeps the last count of pace version it got.
type sink struct {
	mu       sync.Mutex
	requests int
	last     uint64
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p payload.Payload
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &p); err != nil {
		w.WriteHeader(400)
		return
	}
	s.mu.Lock()
	s.requests++
	s.last = p.MetricPoints["pace version"][0].CumulativeCount
	s.mu.Unlock()
	io.WriteString(w, "OK")
}

func (s *sink) state() (int, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.last
}

var eventually = testenv.Eventually

func start(t *testing.T, c Config) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, c) }()
	return func() error { cancel(); return <-done }
}

func testConfig(t *testing.T, endpoint string) (Config, *telemetry.Store) {
	dir := t.TempDir()
	env := map[string]string{}
	return Config{
			Dir: dir, Getenv: func(k string) string { return env[k] }, Endpoint: endpoint,
			Interval: &Interval{Min: time.Millisecond}, Debounce: ptr(20 * time.Millisecond), Version: "v1",
		},
		&telemetry.Store{Dir: dir, Version: "v1.16.0"}
}

func TestUploadsAtStartAndAfterChanges(t *testing.T) {
	s := &sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, store := testConfig(t, srv.URL)
	store.Record("pace version", 0)
	stop := start(t, c)
	eventually(t, "the upload at start", func() bool { _, n := s.state(); return n == 1 })
	for i := 2; i <= 4; i++ {
		store.Record("pace version", 0)
		eventually(t, "an upload after a change", func() bool { _, n := s.state(); return n == uint64(i) })
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st, _ := upload.LoadState(c.Dir)
	if st.LastSuccess.IsZero() || st.DeliveredDigest == "" {
		t.Fatalf("state not saved: %+v", st)
	}
}

func TestDebounceCoalescesABurst(t *testing.T) {
	s := &sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, store := testConfig(t, srv.URL)
	c.Debounce = ptr(300 * time.Millisecond)
	stop := start(t, c)
	defer stop()
	for i := 0; i < 20; i++ {
		store.Record("pace version", 0)
	}
	eventually(t, "the burst delivered", func() bool { _, n := s.state(); return n == 20 })
	if requests, _ := s.state(); requests > 3 {
		t.Fatalf("%d uploads for one burst of 20 runs", requests)
	}
}

func TestSettingsChangesTakeEffectWithoutRestart(t *testing.T) {
	s := &sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, store := testConfig(t, srv.URL)
	if err := config.Set(c.Dir, config.KeyTelemetryMode, "local"); err != nil {
		t.Fatal(err)
	}
	store.Record("pace version", 0)
	stop := start(t, c)
	defer stop()
	store.Record("pace version", 0)
	time.Sleep(200 * time.Millisecond) // ample for a (wrong) upload to happen
	if requests, _ := s.state(); requests != 0 {
		t.Fatalf("uploaded %d times in local mode", requests)
	}
	if err := config.Set(c.Dir, config.KeyTelemetryMode, "on"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an upload once enabled", func() bool { _, n := s.state(); return n == 2 })
}

func TestOneDaemonPerFolder(t *testing.T) {
	c, _ := testConfig(t, "http://127.0.0.1:1/")
	stop := start(t, c)
	defer stop()
	eventually(t, "the first daemon to hold the lock", func() bool {
		_, err := os.Stat(filepath.Join(c.Dir, LockName))
		return err == nil
	})
	var err error
	eventually(t, "the second daemon to refuse", func() bool {
		err = Run(context.Background(), c)
		return err != nil
	})
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second daemon: %v", err)
	}
	if _, _, err := Flush(context.Background(), c); !errors.Is(err, ErrRunning) {
		t.Fatalf("flush beside a daemon: %v", err)
	}
}

func TestShutdownFlushesWhatIsPending(t *testing.T) {
	s := &sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, store := testConfig(t, srv.URL)
	c.Interval = &Interval{Min: time.Hour} // after the first upload, changes wait
	store.Record("pace version", 0)
	stop := start(t, c)
	eventually(t, "the upload at start", func() bool { _, n := s.state(); return n == 1 })
	store.Record("pace version", 0)
	time.Sleep(100 * time.Millisecond)
	if _, n := s.state(); n != 1 {
		t.Fatalf("uploaded %d before the interval passed", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, n := s.state(); n != 2 {
		t.Fatalf("the last flush delivered %d, want 2", n)
	}
}

func TestResolvePrecedence(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	c := Config{Dir: dir, Getenv: func(k string) string { return env[k] }}
	if s := c.Resolve(); s.Endpoint != "" || s.Interval != (Interval{Min: DefaultInterval}) {
		t.Fatalf("defaults: %+v", s)
	}
	if ok, why := c.Resolve().Uploads(); ok || why == "" {
		t.Fatal("uploads without an endpoint")
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("telemetry-endpoint: http://file/\ntelemetry-upload-interval-seconds: 60\n"), 0o600)
	if s := c.Resolve(); s.Endpoint != "http://file/" || s.Interval.Min != time.Minute {
		t.Fatalf("config.yaml: %+v", s)
	}
	env["PACE_TELEMETRY_ENDPOINT"], env["PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"] = "http://env/", "120"
	if s := c.Resolve(); s.Endpoint != "http://env/" || s.Interval.Min != 2*time.Minute {
		t.Fatalf("environment: %+v", s)
	}
	c.Endpoint, c.Interval = "http://flag/", &Interval{Min: 3 * time.Second}
	if s := c.Resolve(); s.Endpoint != "http://flag/" || s.Interval.Min != 3*time.Second || s.EndpointFrom != "--endpoint" {
		t.Fatalf("flags: %+v", s)
	}
	env["PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"] = "-1"
	if ok, why := c.Resolve().Uploads(); ok || why == "" {
		t.Fatal("uploads with an interval of -1 (local mode)")
	}
	c.Interval = nil
	env["PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"] = "soon"
	if s := c.Resolve(); s.Interval.Min != time.Minute || !strings.Contains(s.IntervalFrom, `"soon" is not a number`) {
		t.Fatalf("an unparsable environment value: %+v", s)
	}
	env["PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"] = "0"
	if s := c.Resolve(); s.Interval != (Interval{}) || s.Every() != "upload every change" {
		t.Fatalf("interval 0: %+v", s)
	}
}

func ptr[T any](v T) *T { return &v }

// A receiver asking for an absurd wait (a Retry-After that overflows a
// Duration) gets one request, then none until the 24 h cap: no tight loop.
func TestHugeRetryAfterIsNoLoop(t *testing.T) {
	r := testenv.NewReceiver(t, testenv.Status(503, "Retry-After", "20211507185753197"), testenv.Status(503, "Retry-After", "18446744074"))
	c, store := testConfig(t, r.URL)
	store.Record("pace version", 0)
	stop := start(t, c)
	eventually(t, "the first upload", func() bool { q, _ := r.Requests(); return len(q) == 1 })
	time.Sleep(300 * time.Millisecond) // a loop would make thousands of requests here
	stop()
	if q, _ := r.Requests(); len(q) != 1 {
		t.Fatalf("%d requests after a huge Retry-After", len(q))
	}
	st, _ := upload.LoadState(c.Dir)
	if wait := time.Until(st.RetryAt); wait < 23*time.Hour || wait > 24*time.Hour {
		t.Fatalf("next try in %v, want the 24 h cap", wait)
	}
}

// versionSink keeps every upload's cli_version and count of pace version.
type versionSink struct {
	mu  sync.Mutex
	got []string
}

func (s *versionSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p payload.Payload
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &p); err != nil {
		w.WriteHeader(400)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, fmt.Sprintf("%s:%d", p.CLIVersion, p.MetricPoints["pace version"][0].CumulativeCount))
	s.mu.Unlock()
	io.WriteString(w, "OK")
}

// When the file's cli_version changes (the CLI was upgraded, and its first
// run wrote the new version), the daemon first uploads the counts it read
// before, with the old version, then the file: the old version's runs
// since the last upload count for it, not for the new one.
func TestUploadsOldVersionsCountsFirst(t *testing.T) {
	s := &versionSink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, store := testConfig(t, srv.URL)
	c.Interval = &Interval{Min: time.Hour} // nothing but the first upload until the daemon stops
	var mu sync.Mutex
	var read []string
	c.observe = func(p *payload.Payload) {
		mu.Lock()
		read = append(read, fmt.Sprintf("%s:%d", p.CLIVersion, p.MetricPoints["pace version"][0].CumulativeCount))
		mu.Unlock()
	}
	seen := func(want string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return len(read) > 0 && read[len(read)-1] == want }
	}
	store.Record("pace version", 0)
	stop := start(t, c)
	eventually(t, "the upload at start", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.got) == 1 })
	store.Record("pace version", 0)
	store.Record("pace version", 0)
	eventually(t, "the daemon reading the old version's counts", seen("v1.16.0:3"))
	upgraded := &telemetry.Store{Dir: c.Dir, Version: "v1.17.0"}
	upgraded.Record("pace version", 0)
	eventually(t, "the daemon reading the new version's", seen("v1.17.0:4"))
	if err := stop(); err != nil { // the last try at shutdown sends what is pending
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want := []string{"v1.16.0:1", "v1.16.0:3", "v1.17.0:4"}; !slices.Equal(s.got, want) {
		t.Fatalf("uploads %v, want %v", s.got, want)
	}
}
