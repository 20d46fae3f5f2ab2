package upload

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/testenv"
)

var status = testenv.Status

// got and bodies are what the fake receiver has had so far.
func got(r *testenv.Receiver) []*http.Request { q, _ := r.Requests(); return q }
func bodies(r *testenv.Receiver) [][]byte     { _, b := r.Requests(); return b }

func setup(t *testing.T, answers ...testenv.Answer) (Config, *testenv.Receiver, *telemetry.Store) {
	t.Helper()
	r := testenv.NewReceiver(t, answers...)
	dir := t.TempDir()
	store := &telemetry.Store{Dir: dir, Version: "v1.16.0"}
	store.Record("pace version", 0)
	return Config{Dir: dir, Endpoint: r.URL, Version: "v9.9.9", Client: r.Client}, r, store
}

func TestDeliversTheExactBodyWithHeaders(t *testing.T) {
	cfg, r, store := setup(t)
	var st State
	res := Once(context.Background(), cfg, &st)
	if res.Outcome != Delivered || res.Err != nil {
		t.Fatalf("result %+v", res)
	}
	p, _ := store.Load()
	want, _ := p.Marshal()
	if string(bodies(r)[0]) != string(want) {
		t.Fatalf("body %s, want %s", bodies(r)[0], want)
	}
	req := got(r)[0]
	if req.Method != "POST" || req.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(req.Header.Get("User-Agent"), "pace-telemetryd/v9.9.9 (") {
		t.Fatalf("request %s %v", req.Method, req.Header)
	}
	if st.LastSuccess.IsZero() || st.DeliveredDigest != Digest(want) || st.Failures != 0 {
		t.Fatalf("state %+v", st)
	}
	// The same counts are not sent again; new counts are.
	if res := Once(context.Background(), cfg, &st); res.Outcome != Nothing || len(got(r)) != 1 {
		t.Fatalf("unchanged counts: %+v, %d requests", res, len(got(r)))
	}
	store.Record("pace version", 0)
	if res := Once(context.Background(), cfg, &st); res.Outcome != Delivered || len(got(r)) != 2 {
		t.Fatalf("changed counts: %+v, %d requests", res, len(got(r)))
	}
}

func TestServerErrorsAreRetriedAndKeepTheData(t *testing.T) {
	cfg, r, store := setup(t, status(500), status(503, "Retry-After", "120"), status(429, "Retry-After", "Wed, 25 Nov 2099 12:00:00 GMT"))
	before, _ := os.ReadFile(store.Path())
	var st State
	for i, want := range []time.Duration{0, 120 * time.Second, -1} {
		res := Once(context.Background(), cfg, &st)
		if res.Outcome != Retry || st.Failures != i+1 || !strings.Contains(st.LastError, "receiver answered") {
			t.Fatalf("attempt %d: %+v, state %+v", i, res, st)
		}
		if want >= 0 && res.RetryAfter != want || want < 0 && res.RetryAfter < time.Hour {
			t.Fatalf("attempt %d: Retry-After %v", i, res.RetryAfter)
		}
	}
	if after, _ := os.ReadFile(store.Path()); string(after) != string(before) {
		t.Fatal("an upload changed the counts")
	}
	if res := Once(context.Background(), cfg, &st); res.Outcome != Delivered || st.Failures != 0 || st.LastError != "" {
		t.Fatalf("after recovery: %+v, %+v", res, st)
	}
	if len(got(r)) != 4 {
		t.Fatalf("%d requests, want 4", len(got(r)))
	}
}

func TestClientErrorsAreHeldUntilTheCountsChange(t *testing.T) {
	cfg, r, store := setup(t, status(400))
	var st State
	res := Once(context.Background(), cfg, &st)
	if res.Outcome != Rejected || !strings.Contains(st.LastError, "400") || !strings.Contains(st.LastError, "metric_points: no") {
		t.Fatalf("%+v, %+v", res, st)
	}
	if res := Once(context.Background(), cfg, &st); res.Outcome != Nothing || res.Err == nil || len(got(r)) != 1 {
		t.Fatalf("refused counts sent again: %+v, %d requests", res, len(got(r)))
	}
	store.Record("pace version", 1)
	if res := Once(context.Background(), cfg, &st); res.Outcome != Delivered || st.RejectedDigest != "" {
		t.Fatalf("new counts after a refusal: %+v, %+v", res, st)
	}
}

func TestConnectionRefusedAndTimeout(t *testing.T) {
	cfg, _, _ := setup(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg.Endpoint = "http://" + l.Addr().String() + "/"
	l.Close()
	var st State
	if res := Once(context.Background(), cfg, &st); res.Outcome != Retry || !strings.Contains(res.Err.Error(), "refused") {
		t.Fatalf("connection refused: %+v", res)
	}
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	cfg.Endpoint, cfg.Client = srv.URL, &http.Client{Timeout: 50 * time.Millisecond}
	if res := Once(context.Background(), cfg, &st); res.Outcome != Retry || !strings.Contains(res.Err.Error(), "Timeout") {
		t.Fatalf("hanging receiver: %+v", res)
	}
	if st.Failures != 2 {
		t.Fatalf("failures %d", st.Failures)
	}
}

func TestNothingToSend(t *testing.T) {
	var st State
	cfg := Config{Dir: t.TempDir(), Endpoint: "http://127.0.0.1:1/"}
	if res := Once(context.Background(), cfg, &st); res.Outcome != Nothing || res.Err != nil {
		t.Fatalf("no file: %+v", res)
	}
	os.WriteFile(filepath.Join(cfg.Dir, "telemetry.yaml"), []byte("::bad"), 0o600)
	if res := Once(context.Background(), cfg, &st); res.Outcome != Nothing || res.Err == nil {
		t.Fatalf("bad file: %+v", res)
	}
	if st.Failures != 0 {
		t.Fatalf("a bad file counted as a failed upload: %+v", st)
	}
	// A file that cannot be read now (here a folder in its place; on
	// Windows, a file being replaced) is tried again with backoff.
	os.Remove(filepath.Join(cfg.Dir, "telemetry.yaml"))
	os.Mkdir(filepath.Join(cfg.Dir, "telemetry.yaml"), 0o700)
	if res := Once(context.Background(), cfg, &st); res.Outcome != Retry || res.Err == nil || st.Failures != 1 || st.LastError == "" {
		t.Fatalf("unreadable now: %+v, state %+v", res, st)
	}
	cfg.Endpoint = ""
	if res := Once(context.Background(), cfg, &st); res.Err == nil || !strings.Contains(res.Err.Error(), "no endpoint") {
		t.Fatalf("no endpoint: %+v", res)
	}
}

func TestSentLogShowsEveryByte(t *testing.T) {
	cfg, _, store := setup(t, status(500))
	var st State
	Once(context.Background(), cfg, &st)
	Once(context.Background(), cfg, &st)
	data, err := os.ReadFile(filepath.Join(cfg.Dir, SentLogName))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := store.Load()
	body, _ := p.Marshal()
	log := string(data)
	if strings.Count(log, string(body)) != 2 || !strings.Contains(log, "HTTP 500") || !strings.Contains(log, "HTTP 200: delivered") || !strings.Contains(log, "POST "+cfg.Endpoint) {
		t.Fatalf("sent log:\n%s", log)
	}
	fi, _ := os.Stat(filepath.Join(cfg.Dir, SentLogName))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("sent log mode %v", fi.Mode().Perm())
	}
}

func TestSentLogStaysBounded(t *testing.T) {
	dir := t.TempDir()
	body := []byte(strings.Repeat("x", 1000))
	for i := 0; i < 1000; i++ {
		logSent(dir, time.Now(), "http://r/", body, Result{Outcome: Delivered, Status: 200})
	}
	data, _ := os.ReadFile(filepath.Join(dir, SentLogName))
	if len(data) > SentLogMax || len(data) < SentLogMax/3 {
		t.Fatalf("sent log is %d bytes, want at most %d and not emptied", len(data), SentLogMax)
	}
	if !strings.HasPrefix(string(data), "20") {
		t.Fatalf("trimmed log does not start at an entry: %q", data[:40])
	}
}

// The proxy settings of the environment are used. Go reads them once per
// process and never proxies loopback addresses, so the upload runs in a
// child process with HTTP_PROXY set, to an endpoint name that only the
// proxy (a test server here) knows.
func TestDefaultClientUsesTheEnvironmentsProxy(t *testing.T) {
	if os.Getenv("PACE_UPLOAD_PROXY_CHILD") != "" {
		dir := t.TempDir()
		(&telemetry.Store{Dir: dir, Version: "v1.16.0"}).Record("pace version", 0)
		var st State
		res := Once(context.Background(), Config{Dir: dir, Endpoint: "http://telemetry.pace.test/ingest"}, &st)
		if res.Outcome != Delivered {
			t.Fatalf("through the proxy: %+v", res)
		}
		return
	}
	seen := make(chan string, 1)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p payload.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			w.WriteHeader(400)
			return
		}
		seen <- r.URL.String()
		io.WriteString(w, "OK")
	}))
	defer proxy.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDefaultClientUsesTheEnvironmentsProxy$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PACE_UPLOAD_PROXY_CHILD=1", "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	select {
	case u := <-seen:
		if u != "http://telemetry.pace.test/ingest" {
			t.Fatalf("proxy saw %q", u)
		}
	default:
		t.Fatal("the upload did not go through the proxy")
	}
}

func TestSecretsInTheEndpointNeverReachLogs(t *testing.T) {
	cases := map[string]string{
		"https://user:s3cret@t.example/ingest":  "https://user:xxxxx@t.example/ingest",
		"https://t.example/ingest?token=s3cret": "https://t.example/ingest?…",
		"https://t.example/":                    "https://t.example/",
		"://bad s3cret":                         "(an endpoint that is not a URL)",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	cfg, _, _ := setup(t, status(500))
	cfg.Endpoint = strings.Replace(cfg.Endpoint, "http://", "http://user:s3cret@", 1) + "/?token=s3cret"
	var st State
	res := Once(context.Background(), cfg, &st)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://user:s3cret@" + l.Addr().String() + "/?token=s3cret"
	l.Close()
	cfg.Endpoint = down
	res2 := Once(context.Background(), cfg, &st)
	log, _ := os.ReadFile(filepath.Join(cfg.Dir, SentLogName))
	for _, text := range []string{string(log), res.Err.Error(), res2.Err.Error(), st.LastError} {
		if strings.Contains(text, "s3cret") {
			t.Fatalf("a secret leaked: %s", text)
		}
	}
	if !strings.Contains(res2.Err.Error(), "refused") {
		t.Fatalf("the error lost its cause: %v", res2.Err)
	}
}

// Counts refused by one endpoint are tried again once the endpoint changes.
func TestRefusalIsPerEndpoint(t *testing.T) {
	cfg, r, _ := setup(t, status(404))
	var st State
	good := cfg.Endpoint
	cfg.Endpoint = good + "/wrong"
	if res := Once(context.Background(), cfg, &st); res.Outcome != Rejected {
		t.Fatalf("%+v", res)
	}
	if res := Once(context.Background(), cfg, &st); res.Outcome != Nothing || len(got(r)) != 1 {
		t.Fatalf("retried at the same endpoint: %+v", res)
	}
	cfg.Endpoint = good
	if res := Once(context.Background(), cfg, &st); res.Outcome != Delivered {
		t.Fatalf("after fixing the endpoint: %+v", res)
	}
}

// Crash sites go with the counts; a receiver from before them, which
// refuses the unknown field and so the whole upload, gets the runs without
// the sites at once, and the counts are delivered.
func TestCrashSitesAreUploaded(t *testing.T) {
	cfg, r, store := setup(t)
	store.RecordCrash("pace version", 70, "internal/cli.crashTest:+4")
	var st State
	if res := Once(context.Background(), cfg, &st); res.Outcome != Delivered {
		t.Fatalf("result %+v", res)
	}
	p, err := payload.Decode(bodies(r)[0])
	if err != nil {
		t.Fatalf("the receiver would refuse the body: %v", err)
	}
	if p.CrashSites["pace version"]["internal/cli.crashTest:+4"].CumulativeCount != 1 || p.MetricPoints["pace version"][70].CumulativeCount != 1 {
		t.Fatalf("body %s: want the run and its crash site", bodies(r)[0])
	}

	old := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"\"crash_sites\": unknown field"}`)
	}
	cfg, r, store = setup(t, old)
	store.RecordCrash("pace version", 70, "internal/cli.crashTest:+4")
	st = State{}
	if res := Once(context.Background(), cfg, &st); res.Outcome != Delivered {
		t.Fatalf("against a receiver without crash sites: %+v", res)
	}
	b := bodies(r)
	if len(b) != 2 || !strings.Contains(string(b[0]), "crash_sites") || strings.Contains(string(b[1]), "crash") || !strings.Contains(string(b[1]), `"70":{"cumulative_count":1}`) {
		t.Fatalf("bodies %q: want one with the sites, refused, then one without", b)
	}
	// Delivered: the same counts are not sent again.
	if res := Once(context.Background(), cfg, &st); res.Outcome != Nothing {
		t.Fatalf("again: %+v", res)
	}
	// Any other refusal stays a refusal.
	cfg, r, store = setup(t, testenv.Status(http.StatusBadRequest))
	store.RecordCrash("pace version", 70, "internal/cli.crashTest:+4")
	st = State{}
	if res := Once(context.Background(), cfg, &st); res.Outcome != Rejected || len(bodies(r)) != 1 {
		t.Fatalf("another 400: %+v, %d requests", res, len(bodies(r)))
	}
}
