package receiver

// The dashboards' ground-truth test: a simulated week of installs (package
// simweek) goes through the real receiver handler, with its clock set to
// each upload's time, into a real Prometheus and a real VictoriaMetrics (by
// remote write) and a real carbon-cache with graphite-web (Debian's
// packages), all on loopback. Then every panel query of the dashboard JSON
// files runs as Grafana runs it (variables substituted, ranges aligned to
// the step) over several time ranges and bar widths, and is compared with
// the simulation's truth: equal on the PromQL stores, and on Graphite
// within the error docs/dashboards.md states for each panel.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/servertest"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/internal/promwrite"
	"github.com/pace-cli/pace/function/internal/simweek"
)

// truthSeed fixes the simulated fleet. The week always starts on a Monday,
// so the fleet, and Graphite's measured errors, do not depend on the day
// the test runs.
const truthSeed = 20261125

// truthWeek returns the simulated week: 16 installs present before it and
// 6 new during it (every case of simweek is among them; fewer keep the
// test under a minute and a half here), starting on the Monday at least 9 days ago, so that all
// of it, history included, is in the past and within every store's
// retention.
func truthWeek() *simweek.Week {
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -9)
	for start.Weekday() != time.Monday {
		start = start.AddDate(0, 0, -1)
	}
	return simweek.Simulate(simweek.Config{Seed: truthSeed, Start: start, Installs: 16, NewInstalls: 6})
}

// scenario is a dashboard view: a time range, a bar width, and the
// commands chosen in the command variable (nil: All).
type scenario struct {
	name     string
	from, to time.Time
	step     time.Duration
	commands []string // paths, e.g. "pace list tables"
}

func truthScenarios(w *simweek.Week) []scenario {
	d2, _ := w.Day(2)
	return []scenario{
		{name: "week by day", from: w.Start, to: w.End, step: 24 * time.Hour},
		{name: "Wednesday by hour", from: d2, to: d2.Add(24 * time.Hour), step: time.Hour},
		{name: "odd range by 3h", from: w.Start.Add(31 * time.Hour), to: w.Start.Add(4*24*time.Hour + 13*time.Hour), step: 3 * time.Hour},
		{name: "week by day, two commands", from: w.Start, to: w.End, step: 24 * time.Hour, commands: []string{"pace list tables", "pace evaluate data-policy"}},
		{name: "weekend by 6h", from: w.Start.AddDate(0, 0, 5), to: w.End, step: 6 * time.Hour},
	}
}

// grafanaInterval formats a step as Grafana's $__interval does.
func grafanaInterval(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return strconv.Itoa(int(d/time.Second)) + "s"
}

// grafanaRegex is Grafana's ${var:regex} of the chosen values: the "All"
// value of the variable (.*), one escaped value, or (a|b).
func grafanaRegex(values []string) string {
	if values == nil {
		return ".*"
	}
	esc := make([]string, len(values))
	for i, v := range values {
		esc[i] = regexp.MustCompile(`[\\^$*+?.()|\[\]{}/]`).ReplaceAllString(v, `\$0`)
	}
	if len(esc) == 1 {
		return esc[0]
	}
	return "(" + strings.Join(esc, "|") + ")"
}

// panelTarget is one query of a dashboard panel.
type panelTarget struct {
	title, kind string // kind: the panel type
	query       string // expr (PromQL) or target (Graphite)
	instant     bool
	calc        string // Grafana's reduction for single-value panels
}

func readPanels(t *testing.T, file string) []panelTarget {
	t.Helper()
	d := dashboards.MustLoad(file)
	var out []panelTarget
	for _, p := range d.Panels {
		if p.Title == healthPanel {
			continue // the receiver's own figures, not the fleet's: TestHealthPanels
		}
		for _, tg := range p.Targets {
			pt := panelTarget{title: p.Title, kind: p.Type, query: tg.Expr + tg.Target, instant: tg.Instant}
			if len(p.Options.ReduceOptions.Calcs) > 0 {
				pt.calc = p.Options.ReduceOptions.Calcs[0]
			}
			out = append(out, pt)
		}
	}
	return out
}

// substitute replaces Grafana's variables in q as Grafana does for sc;
// label turns a command path into the store's command value.
func substitute(t *testing.T, q string, sc scenario, label func(string) string) string {
	var chosen []string
	for _, c := range sc.commands {
		chosen = append(chosen, label(c))
	}
	return grafanaVar.ReplaceAllStringFunc(q, func(v string) string {
		switch v {
		case "$__interval", "${__interval}":
			return grafanaInterval(sc.step)
		case "$__range", "${__range}":
			return strconv.Itoa(int(sc.to.Sub(sc.from)/time.Second)) + "s"
		case "${__range_s}", "$__range_s":
			return strconv.Itoa(int(sc.to.Sub(sc.from) / time.Second))
		case "${command:regex}":
			return grafanaRegex(chosen)
		case "$lookback":
			return "30d"
		}
		t.Fatalf("query %q: unknown variable %s", q, v)
		return ""
	})
}

func promCommand(path string) string {
	return promwrite.Command(strings.Fields(path)[1:])
}

func graphiteCommand(path string) string {
	return graphite.Command(strings.Fields(path)[1:])
}

// want returns, for one panel, what it must show over [from, to): each
// legend key (as the store names it, see key) with its value. Zero counts
// are left out: a store may or may not return a series of zeros.
func want(title string, truth *simweek.Truth, from, to time.Time, sc scenario, label func(string) string, key func(labels ...string) string) map[string]float64 {
	chosen := func(path string) bool { return sc.commands == nil || slices.Contains(sc.commands, path) }
	out := map[string]float64{}
	switch title {
	case "Unique installs":
		if n := truth.Installs(from, to); n > 0 {
			out[key()] = float64(n)
		}
	case "Invocations per command", "Invocations per command in the range":
		for path, n := range truth.RunsPerCommand(from, to) {
			if chosen(path) && n > 0 {
				out[key("command", label(path))] = float64(n)
			}
		}
	case "Failure rate per command", "Failure rate per command per bar":
		fail := truth.FailingPerCommand(from, to)
		for path, n := range truth.RunsPerCommand(from, to) {
			if chosen(path) && n > 0 {
				out[key("command", label(path))] = 100 * float64(fail[path]) / float64(n)
			}
		}
	case "Installs per CLI version":
		for v, n := range truth.InstallsByVersion(from, to) {
			out[key("cli_version", v)] = float64(n)
		}
	case "Installs per operating system":
		for v, n := range truth.InstallsByOS(from, to) {
			out[key("operating_system", v)] = float64(n)
		}
	case "Installs per command":
		for path, n := range truth.InstallsPerCommand(from, to) {
			if chosen(path) {
				out[key("command", label(path))] = float64(n)
			}
		}
	case "Invocations per exit code":
		for k, n := range truth.Runs(from, to) {
			if chosen(k.Path) && n > 0 {
				out[key("command", label(k.Path), "exit_code", strconv.Itoa(k.ExitCode))] = float64(n)
			}
		}
	default:
		return nil
	}
	return out
}

// promKey names a series by its sorted labels, as promQuery does.
func promKey(kv ...string) string {
	var l []string
	for i := 0; i+1 < len(kv); i += 2 {
		l = append(l, kv[i]+"="+kv[i+1])
	}
	sort.Strings(l)
	return strings.Join(l, ";")
}

// graphiteKey names a series as the Graphite dashboard's aliases do: the
// chosen tags' values joined with '.'.
func graphiteKey(kv ...string) string {
	var v []string
	for i := 1; i < len(kv); i += 2 {
		v = append(v, kv[i])
	}
	return strings.Join(v, ".")
}

func TestDashboardsAgainstSimulatedWeek(t *testing.T) {
	needBinaries(t, "prometheus", "victoria-metrics", "carbon-cache", "graphite-manage")
	w := truthWeek()
	for _, c := range []string{"always on", "weekday laptop", "offline 2-4 days", "occasional", "new during the week", "upgrade", "telemetry reset"} {
		n := 0
		for k, v := range w.Cases {
			if strings.HasPrefix(k, c) {
				n += v
			}
		}
		if n == 0 {
			t.Fatalf("the simulated fleet has no install of case %q: %v", c, w.Cases)
		}
	}
	t.Logf("simulated %d uploads of %d installs from %s to %s: %v", len(w.Uploads), w.Truth.Installs(w.Start, w.End), w.Start.Format(time.DateOnly), w.End.Format(time.DateOnly), w.Cases)

	began := time.Now()
	promURL := startPrometheus(t)
	vmURL := startVictoriaMetrics(t)
	carbonAddr, graphiteURL := startGraphite(t)

	t.Logf("stores started in %v", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	clocks := map[string]*testClock{}
	handler := func(name string, sink sink.Store) http.Handler {
		clocks[name] = &testClock{}
		h, err := NewHandler(HandlerConfig{Store: sink, Now: clocks[name].Now, Logger: NewLogger(io.Discard)})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	promSink, err := promwrite.Open("prometheus+"+promURL+"/api/v1/write", promwrite.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	vmSink, err := promwrite.Open("prometheus+"+vmURL+"/api/v1/write", promwrite.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	handlers := map[string]http.Handler{
		"prometheus":      handler("prometheus", promSink),
		"victoriametrics": handler("victoriametrics", vmSink),
		"graphite":        handler("graphite", &graphite.Sink{W: &graphite.CarbonSink{Addr: carbonAddr}, Interval: time.Hour}),
	}

	// Every store gets every upload, in time order, through the handler.
	var wg sync.WaitGroup
	errs := make(chan error, len(handlers))
	for name, h := range handlers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range w.Uploads {
				u := &w.Uploads[i]
				clocks[name].Set(u.At)
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(u.Body())))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					errs <- fmt.Errorf("%s: upload %d at %v: %d %s", name, i, u.At, rec.Code, rec.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	t.Logf("uploads written in %v", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	// The stores hold what was written before any panel is read.
	nSeries := writtenSeries(w)
	vmFlush := func() {
		if resp, err := http.Get(vmURL + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
	}
	lookback := `count(last_over_time(` + promwrite.MetricName + `[60d]))`
	for _, s := range []struct {
		name, base string
		flush      func()
	}{{"prometheus", promURL, nil}, {"victoriametrics", vmURL, vmFlush}} {
		pollQuery(t, s.base, lookback, time.Now(), map[string]float64{"": float64(nSeries)}, s.flush)
	}
	waitGraphite(t, graphiteURL, nSeries, w)
	t.Logf("stores caught up in %v", time.Since(began).Round(time.Millisecond))

	for _, s := range []struct{ name, base string }{{"prometheus", promURL}, {"victoriametrics", vmURL}} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			checkPromDashboard(t, s.base, w)
			checkNaiveQueryIsWrong(t, s.base, w)
		})
	}
	t.Run("graphite", func(t *testing.T) {
		t.Parallel()
		checkGraphiteDashboard(t, graphiteURL, w)
	})
}

// writtenSeries counts the distinct series the uploads make: one per
// (id, known path, exit code, cli_version, operating system).
func writtenSeries(w *simweek.Week) int {
	seen := map[string]bool{}
	for _, u := range w.Uploads {
		for path, codes := range u.Payload.MetricPoints {
			if path == simweek.UnknownPath {
				continue
			}
			for code := range codes {
				seen[fmt.Sprint(u.Payload.ID, path, code, u.Payload.CLIVersion, u.Payload.OperatingSystem)] = true
			}
		}
	}
	return len(seen)
}

func startPrometheus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte("global:\n  scrape_interval: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startServer(t, dir, addr, "prometheus",
		"--web.enable-remote-write-receiver", "--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--storage.tsdb.retention.time=60d",
		// Two weeks written in seconds would make Prometheus cut and merge
		// a hundred 2h blocks while the panels are read: keep it in the head.
		"--storage.tsdb.min-block-duration=30d", "--storage.tsdb.max-block-duration=30d",
		"--config.file="+conf, "--log.level=warn")
	waitHTTP200(t, "http://"+addr+"/-/ready")
	return "http://" + addr
}

func startVictoriaMetrics(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	startServer(t, dir, addr, "victoria-metrics",
		"-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(dir, "data"),
		"-retentionPeriod=3", "-loggerLevel=WARN")
	return "http://" + addr
}

// startGraphite starts graphite-web (Django's server, over a sqlite tag
// database) and carbon-cache, which sends it the tags of new series
// (GRAPHITE_URL) and answers its cache queries. It returns carbon's
// plaintext address and graphite-web's URL. Whisper keeps one point an
// hour: the daemon uploads at most hourly, so one install's series never
// has two uploads in one point.
func startGraphite(t *testing.T) (carbonAddr, webURL string) {
	t.Helper()
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	for _, d := range []string{filepath.Join(storage, "whisper"), filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	webAddr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	linePort, queryPort := writeCarbonConf(t, dir, "1h:60d", "GRAPHITE_URL = http://"+webAddr+"\nTAG_BATCH_SIZE = 1000\n")
	settings := fmt.Sprintf(`SECRET_KEY = 'pace-test'
STORAGE_DIR = %[1]q
WHISPER_DIR = %[2]q
STANDARD_DIRS = [%[2]q]
LOG_DIR = %[3]q
INDEX_FILE = %[4]q
CARBONLINK_HOSTS = ['127.0.0.1:%[5]d']
TAGDB = 'graphite.tags.localdatabase.LocalDatabaseTagDB'
DATABASES = {'default': {'NAME': %[6]q, 'ENGINE': 'django.db.backends.sqlite3', 'OPTIONS': {'timeout': 60}}}
`, storage, filepath.Join(storage, "whisper"), filepath.Join(dir, "log"), filepath.Join(storage, "index"), queryPort, filepath.Join(dir, "graphite.db"))
	if err := os.WriteFile(filepath.Join(dir, "pace_graphite_settings.py"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	// graphite-manage finds its settings through the environment.
	t.Setenv("PYTHONPATH", dir)
	t.Setenv("GRAPHITE_SETTINGS_MODULE", "pace_graphite_settings")
	t.Setenv("DJANGO_SETTINGS_MODULE", "graphite.settings")
	migrate := exec.Command("graphite-manage", "migrate", "--run-syncdb")
	migrate.Dir = dir
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("graphite-manage migrate: %v\n%s", err, out)
	}
	startServer(t, dir, webAddr, "graphite-manage", "runserver", webAddr, "--noreload")
	lineAddr := fmt.Sprintf("127.0.0.1:%d", linePort)
	startServer(t, dir, lineAddr, "carbon-cache", "--config="+filepath.Join(dir, "carbon.conf"), "--debug", "start")
	return lineAddr, "http://" + webAddr
}

// waitGraphite waits until graphite-web finds every series by its tags
// (carbon tags new series in batches) and carbon has every point.
func waitGraphite(t *testing.T, base string, n int, w *simweek.Week) {
	t.Helper()
	deadline := time.Now().Add(2 * e2eWait)
	from := w.Uploads[0].At.Add(-time.Hour)
	for {
		got, err := graphiteRenderErr(base, "countSeries(seriesByTag('name="+graphite.MetricName+"'))", from, time.Now())
		if err == nil && len(got) == 1 && len(got[0].points) > 0 && got[0].points[len(got[0].points)-1].v != nil && int(*got[0].points[len(got[0].points)-1].v) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("graphite-web finds %v series (%v), want %d", got, err, n)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type point struct {
	t int64
	v *float64
}

type graphiteSeries struct {
	name   string
	points []point
}

// graphiteRender runs a target as Grafana's Graphite data source does.
func graphiteRender(t *testing.T, base, target string, from, until time.Time) []graphiteSeries {
	t.Helper()
	out, err := graphiteRenderErr(base, target, from, until)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func graphiteRenderErr(base, target string, from, until time.Time) ([]graphiteSeries, error) {
	q := url.Values{"target": {target}, "from": {strconv.FormatInt(from.Unix(), 10)}, "until": {strconv.FormatInt(until.Unix(), 10)}, "format": {"json"}, "maxDataPoints": {"5000"}}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.PostForm(base+"/render", q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		if i := strings.Index(string(b), "Error"); i >= 0 {
			b = b[i:]
		}
		return nil, fmt.Errorf("render %s: %s: %.300s", target, resp.Status, b)
	}
	var raw []struct {
		Target     string
		Datapoints [][2]*float64
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("render %s: %v: %.500s", target, err, b)
	}
	var out []graphiteSeries
	for _, r := range raw {
		s := graphiteSeries{name: r.Target}
		for _, dp := range r.Datapoints {
			s.points = append(s.points, point{t: int64(*dp[1]), v: dp[0]})
		}
		out = append(out, s)
	}
	return out, nil
}

// promResult is one series of a query result.
type promResult struct {
	key    string
	points map[int64]float64 // Unix seconds -> value
}

// promAPI runs an instant query at ts, or a range query from start to end
// by step, as Grafana's Prometheus data source does.
func promAPI(t *testing.T, base, query string, instant bool, ts, start, end time.Time, step time.Duration) []promResult {
	t.Helper()
	q := url.Values{"query": {query}, "nocache": {"1"}} // nocache: VictoriaMetrics' response cache
	path := "/api/v1/query"
	if instant {
		q.Set("time", strconv.FormatInt(ts.Unix(), 10))
	} else {
		path = "/api/v1/query_range"
		q.Set("start", strconv.FormatInt(start.Unix(), 10))
		q.Set("end", strconv.FormatInt(end.Unix(), 10))
		q.Set("step", strconv.Itoa(int(step/time.Second)))
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.PostForm(base+path, q)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
				Values [][2]any
			}
		}
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" {
		t.Fatalf("%s %q: %s %v: %.1000s", path, query, resp.Status, err, b)
	}
	var out []promResult
	for _, s := range r.Data.Result {
		var kv []string
		for k, v := range s.Metric {
			if k != "__name__" {
				kv = append(kv, k, v)
			}
		}
		pr := promResult{key: promKey(kv...), points: map[int64]float64{}}
		vals := s.Values
		if instant {
			vals = [][2]any{s.Value}
		}
		for _, v := range vals {
			ts, _ := v[0].(float64)
			str, _ := v[1].(string)
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				t.Fatalf("%q: value %v", query, v)
			}
			pr.points[int64(ts)] = f
		}
		out = append(out, pr)
	}
	return out
}

// checkPromDashboard runs every panel of the PromQL dashboard in every
// scenario and wants the truth exactly.
func checkPromDashboard(t *testing.T, base string, w *simweek.Week) {
	panels := readPanels(t, promDashboard)
	for _, sc := range truthScenarios(w) {
		for _, p := range panels {
			q := substitute(t, p.query, sc, promCommand)
			if p.instant {
				// Grafana asks at the end of the range; $__range is its length.
				res := promAPI(t, base, q, true, sc.to, time.Time{}, time.Time{}, 0)
				got := map[string]float64{}
				for _, r := range res {
					for _, v := range r.points {
						if v != 0 || strings.HasPrefix(p.title, "Failure rate") {
							got[r.key] = v
						}
					}
				}
				exp := want(p.title, w.Truth, sc.from, sc.to, sc, promCommand, promKey)
				if exp == nil {
					t.Fatalf("panel %q: no truth for it", p.title)
				}
				if !sameValues(got, exp) {
					t.Errorf("%s: %s over [%s, %s):\n got %v\nwant %v\nquery %s", sc.name, p.title, sc.from, sc.to, got, exp, q)
				}
				continue
			}
			// Grafana aligns a range query's start and end down to the step;
			// the point at T covers (T-step, T].
			step := int64(sc.step / time.Second)
			start := time.Unix(sc.from.Unix()/step*step, 0)
			end := time.Unix(sc.to.Unix()/step*step, 0)
			res := promAPI(t, base, q, false, time.Time{}, start, end, sc.step)
			for ts := start; !ts.After(end); ts = ts.Add(sc.step) {
				got := map[string]float64{}
				for _, r := range res {
					if v, ok := r.points[ts.Unix()]; ok && (v != 0 || strings.HasPrefix(p.title, "Failure rate")) {
						got[r.key] = v
					}
				}
				exp := want(p.title, w.Truth, ts.Add(-sc.step), ts, sc, promCommand, promKey)
				if exp == nil {
					t.Fatalf("panel %q: no truth for it", p.title)
				}
				if !sameValues(got, exp) {
					t.Errorf("%s: %s, bar at %s:\n got %v\nwant %v", sc.name, p.title, ts, got, exp)
				}
			}
		}
	}
}

// versionSpelling drops the leading "v" of a cli_version in a series key:
// the receiver may store one spelling of 1.25.0 and v1.25.0, and the
// dashboards show what it stores.
var versionSpelling = regexp.MustCompile(`(^|cli_version=)v([0-9])`)

func normalizeVersions(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[versionSpelling.ReplaceAllString(k, "$1$2")] += v
	}
	return out
}

func sameValues(got, want map[string]float64) bool {
	got, want = normalizeVersions(got), normalizeVersions(want)
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-v) > 1e-9*math.Max(1, math.Abs(v)) {
			return false
		}
	}
	return true
}

// graphiteErrors reads the error each Graphite panel may have on the
// simulated week, from the table in docs/dashboards.md: "| Title | … | N % |"
// (or "N pp" for rates, in percentage points).
func graphiteErrors(t *testing.T) map[string]float64 {
	t.Helper()
	f, err := os.Open("../../docs/dashboards.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\| (.+?) \|.*\| ≤ ([0-9.]+) (%|pp) \|$`)
	out := map[string]float64{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			in = strings.Contains(line, "Graphite dashboard: measured error")
			continue
		}
		if m := row.FindStringSubmatch(line); in && m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = v
		}
	}
	return out
}

// checkGraphiteDashboard runs every panel of the Graphite dashboard in
// every scenario and measures its error against the truth: for counts, the
// sum of the absolute differences over the sum of the truth; for rates, the
// mean absolute difference in percentage points. Each must be within what
// docs/dashboards.md states.
func checkGraphiteDashboard(t *testing.T, base string, w *simweek.Week) {
	panels := readPanels(t, dashboards.Graphite)
	stated := graphiteErrors(t)
	worst := map[string]float64{}
	for _, sc := range truthScenarios(w) {
		for _, p := range panels {
			q := substitute(t, p.query, sc, graphiteCommand)
			res := graphiteRender(t, base, q, sc.from, sc.to)
			rate := strings.HasPrefix(p.title, "Failure rate")
			var absDiff, total float64
			var n int
			compare := func(got, exp map[string]float64) {
				if p.title == "Installs per CLI version" {
					got, exp = normalizeVersions(got), normalizeVersions(exp)
				}
				for k, v := range exp {
					absDiff += math.Abs(got[k] - v)
					total += v
					n++
				}
				for k, v := range got {
					if _, ok := exp[k]; !ok {
						absDiff += math.Abs(v)
						n++
					}
				}
			}
			if p.kind == "timeseries" {
				// summarize() aligns its buckets to the first point, which
				// graphite-web puts one whisper point (1h) after the range's
				// start; movingWindow's point at P holds the uploads of
				// [P-1h, P). So the bucket drawn at B holds [B-1h, B-1h+step).
				buckets := map[int64]map[string]float64{}
				for _, s := range res {
					for _, pt := range s.points {
						if pt.v == nil || (*pt.v == 0 && !rate) {
							continue
						}
						if buckets[pt.t] == nil {
							buckets[pt.t] = map[string]float64{}
						}
						buckets[pt.t][s.name] = *pt.v
					}
				}
				step := int64(sc.step / time.Second)
				for b := sc.from.Unix() + 3600; b-3600 < sc.to.Unix(); b += step {
					from, to := time.Unix(b-3600, 0), time.Unix(min(b-3600+step, sc.to.Unix()), 0)
					compare(buckets[b], want(p.title, w.Truth, from, to, sc, graphiteCommand, graphiteKey))
					delete(buckets, b)
				}
				for b, got := range buckets {
					t.Errorf("%s: %s: a bucket at %v that no bar should have: %v", sc.name, p.title, time.Unix(b, 0), got)
				}
			} else {
				got := map[string]float64{}
				for _, s := range res {
					var v *float64
					for _, pt := range s.points {
						if pt.v != nil || p.calc == "last" {
							v = pt.v
						}
					}
					if v != nil && (*v != 0 || rate) {
						got[s.name] = *v
					}
				}
				if p.title == "Unique installs" {
					for k, v := range got {
						delete(got, k)
						got[""] = v
					}
				}
				exp := want(p.title, w.Truth, sc.from, sc.to, sc, graphiteCommand, graphiteKey)
				if exp == nil {
					t.Fatalf("panel %q: no truth for it", p.title)
				}
				compare(got, exp)
				if !sameValues(got, exp) {
					t.Logf("%s: %s: got %v want %v", sc.name, p.title, got, exp)
				}
			}
			var e float64
			if rate {
				e = absDiff / float64(max(n, 1))
			} else if total > 0 {
				e = 100 * absDiff / total
			}
			worst[p.title] = max(worst[p.title], e)
		}
	}
	for _, p := range panels {
		limit, ok := stated[p.title]
		unit := "%"
		if strings.HasPrefix(p.title, "Failure rate") {
			unit = "pp"
		}
		t.Logf("Graphite panel %q: error up to %.1f %s on the simulated week (docs/dashboards.md states %v)", p.title, worst[p.title], unit, limit)
		if !ok {
			t.Errorf("docs/dashboards.md states no error for Graphite panel %q", p.title)
		} else if worst[p.title] > limit+1e-6 { // rates are floats: allow their rounding
			t.Errorf("Graphite panel %q: error %.1f %s, over the %v %s docs/dashboards.md states", p.title, worst[p.title], unit, limit, unit)
		}
	}
}

// checkNaiveQueryIsWrong shows that the comparison can fail: the usual
// counter query, sum by (command) (increase(…[$__interval])), which the
// dashboard used before, does not match the truth on the same data.
func checkNaiveQueryIsWrong(t *testing.T, base string, w *simweek.Week) {
	q := `sum by (command) (increase(` + promwrite.MetricName + `[1d]))`
	res := promAPI(t, base, q, false, time.Time{}, w.Start.Add(24*time.Hour), w.End, 24*time.Hour)
	var got, truth float64
	for i := range w.Days() {
		from, to := w.Day(i)
		for _, r := range res {
			got += r.points[to.Unix()]
		}
		truth += float64(w.Truth.Total(from, to))
	}
	t.Logf("increase() over daily bars sums to %.0f runs in the week, the truth is %.0f (%+.1f %%)", got, truth, 100*(got-truth)/truth)
	if math.Abs(got-truth) < 0.5 {
		t.Errorf("increase() gave the exact week (%v runs): the simulated week lacks the cases that break it", got)
	}
}
