package receiver

// End-to-end tests of the remote-write sink against a real Prometheus and a
// real VictoriaMetrics (Debian's prometheus and victoria-metrics), started
// on loopback as in e2e_test.go.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/promwrite"
	"github.com/pace-cli/pace/function/servertest"
)

// e2ePromWant maps each series e2eBody stores, as its sorted labels without
// __name__, to its value. command keeps the spaces between words.
var e2ePromWant = map[string]float64{
	"cli_version=v1.16.0-rc.1;cmd1=version;command=version;exit_code=0;id=" + testID + ";operating_system=darwin": 17,
	"cli_version=v1.16.0-rc.1;command=pace;exit_code=1;id=" + testID + ";operating_system=darwin":                 3,
}

// e2eBody2 is the next upload of the same installation: 5 more runs of
// "pace version", 1 more of "pace".
const e2eBody2 = `{"metric_points":{"pace version":{"0":{"cumulative_count":22}},"pace":{"1":{"cumulative_count":4}},"pace not-a-command":{"0":{"cumulative_count":10}}},"cli_version":"v1.16.0-rc.1","operating_system":"darwin","id":"` + testID + `"}`

var e2ePromIncrease = map[string]float64{
	"cli_version=v1.16.0-rc.1;cmd1=version;command=version;exit_code=0;id=" + testID + ";operating_system=darwin": 5,
	"cli_version=v1.16.0-rc.1;command=pace;exit_code=1;id=" + testID + ";operating_system=darwin":                 1,
}

// testClock is the receiver's clock, which the test sets: it fixes the
// samples' timestamps, so queries can ask for them at an exact time.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// servePromFunction runs the receiver with a remote-write sink.
func servePromFunction(t *testing.T, writeURL string, clock *testClock) string {
	t.Helper()
	sink, err := promwrite.Open("prometheus+"+writeURL, promwrite.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	return serveWith(t, HandlerConfig{Store: sink, Now: clock.Now})
}

// promQuery runs an instant PromQL query at ts and returns each series of
// the result, as sorted "label=value;…" without __name__, -> value.
func promQuery(t *testing.T, base, query string, ts time.Time) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for _, r := range promAPI(t, base, query, true, ts, time.Time{}, time.Time{}, 0) {
		for _, v := range r.points {
			got[r.key] = v
		}
	}
	return got
}

// pollQuery repeats a query until it returns want or e2eWait passes; flush,
// if not nil, runs before each try.
func pollQuery(t *testing.T, base, query string, ts time.Time, want map[string]float64, flush func()) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		if flush != nil {
			flush()
		}
		got := promQuery(t, base, query, ts)
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %d:\n got %v\nwant %v", query, ts.Unix(), got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitHTTP200 waits for url to answer 200.
func waitHTTP200(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(e2eWait)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v: %v", url, e2eWait, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// e2ePromTimes returns the receive times of the two uploads: in the past,
// so that no store hides them as too recent, a minute apart.
func e2ePromTimes() (t1, t2 time.Time) {
	t1 = time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	return t1, t1.Add(time.Minute)
}

// checkPromStore uploads twice and reads back the values at each time and
// the increase between them. The range [60s] ending at t2 covers exactly
// the two samples, which both stores then count without extrapolation
// (Prometheus 2 takes a range's both ends; VictoriaMetrics takes the last
// sample before the range as its start).
func checkPromStore(t *testing.T, fn, base string, clock *testClock, flush func()) {
	t.Helper()
	t1, t2 := e2ePromTimes()
	clock.Set(t1)
	expectOK(t, postJSON(t, fn, e2eBody))
	pollQuery(t, base, promwrite.MetricName, t1, e2ePromWant, flush)
	// The unknown path made no series.
	pollQuery(t, base, `count({__name__="`+promwrite.MetricName+`"})`, t1, map[string]float64{"": 2}, flush)

	clock.Set(t2)
	expectOK(t, postJSON(t, fn, e2eBody2))
	pollQuery(t, base, "increase("+promwrite.MetricName+"[60s])", t2, e2ePromIncrease, flush)
	pollQuery(t, base, `sum by (command) (increase(`+promwrite.MetricName+`{exit_code="0"}[60s]))`, t2, map[string]float64{"command=version": 5}, flush)

	// The dashboards' queries are proved in dashboards_truth_test.go.
}

func TestE2EPrometheus(t *testing.T) {
	needBinaries(t, "prometheus")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	conf := filepath.Join(dir, "prometheus.yml")
	// No scrapes: the data comes by remote write only.
	if err := os.WriteFile(conf, []byte("global:\n  scrape_interval: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	fn := servePromFunction(t, "http://"+addr+"/api/v1/write", clock)

	// Prometheus not running yet: the client is told to retry.
	clock.Set(time.Now())
	expectSinkDown(t, postJSON(t, fn, e2eBody))

	startServer(t, dir, addr, "prometheus",
		"--web.enable-remote-write-receiver", "--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--config.file="+conf,
		"--log.level=warn")
	waitHTTP200(t, "http://"+addr+"/-/ready")
	checkPromStore(t, fn, "http://"+addr, clock, nil)

	// A sample older than the series' last one is out of order: Prometheus
	// answers 400 and stores nothing; the client gets 422 and does not
	// send the same data again.
	_, t2 := e2ePromTimes()
	clock.Set(t2.Add(-30 * time.Second))
	resp := postJSON(t, fn, e2eBody2)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("Retry-After") != "" || !strings.Contains(string(b), `"error":"sink: the store refused`) {
		t.Fatalf("out-of-order upload: got %d %q Retry-After=%q, want 422", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	pollQuery(t, "http://"+addr, promwrite.MetricName, t2.Add(-30*time.Second), e2ePromWant, nil)
}

func TestE2EVictoriaMetricsRemoteWrite(t *testing.T) {
	needBinaries(t, "victoria-metrics")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	clock := &testClock{}
	fn := servePromFunction(t, "http://"+addr+"/api/v1/write", clock)

	clock.Set(time.Now())
	expectSinkDown(t, postJSON(t, fn, e2eBody))

	startServer(t, dir, addr, "victoria-metrics",
		"-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(dir, "data"),
		"-loggerLevel=WARN")
	client := &http.Client{Timeout: 10 * time.Second}
	flush := func() {
		if resp, err := client.Get("http://" + addr + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
	}
	checkPromStore(t, fn, "http://"+addr, clock, flush)
}
