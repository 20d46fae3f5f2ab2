package receiver

import (
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/servertest"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/internal/promwrite"
)

// healthPanel is the last panel of each dashboard: the receiver's health.
const healthPanel = "Receiver health"

// healthQuery returns the health panel's query of a dashboard.
func healthQuery(t *testing.T, file string) string {
	t.Helper()
	if p := dashboards.MustLoad(file).Panel(healthPanel); p != nil && len(p.Targets) == 1 {
		return p.Targets[0].Query()
	}
	t.Fatalf("%s: no panel %q of one query", file, healthPanel)
	return ""
}

// TestHealthPanels: the Graphite and Prometheus health panels read only
// the health series, by the labels they have (never an id).
func TestHealthPanels(t *testing.T) {
	healthTags := []string{"outcome", "reason", "receiver"}
	g := healthQuery(t, dashboards.Graphite)
	if !strings.Contains(g, "seriesByTag('name="+graphite.HealthMetric+"')") {
		t.Errorf("Graphite: %s does not select %s", g, graphite.HealthMetric)
	}
	for _, m := range quoted.FindAllStringSubmatch(g, -1) {
		if identifier.MatchString(m[1]) && !callbacks[m[1]] && !slices.Contains(healthTags, m[1]) {
			t.Errorf("Graphite: uses tag %q, which the health series do not have", m[1])
		}
	}
	p := healthQuery(t, dashboards.Prometheus)
	for _, m := range promMetric.FindAllString(p, -1) {
		if m != promwrite.HealthMetric {
			t.Errorf("Prometheus: metric %q, want %q", m, promwrite.HealthMetric)
		}
	}
	for _, n := range promLabelsUsed(p) {
		if !slices.Contains(healthTags, n) {
			t.Errorf("Prometheus: uses label %q, which the health series do not have", n)
		}
	}
}

// TestHealthSeriesInVictoriaMetrics: the receiver's outcome counts reach
// a real VictoriaMetrics as pace_receiver_uploads_total, without install
// ids, cumulative per instance, written once sink.HealthEvery has passed.
func TestHealthSeriesInVictoriaMetrics(t *testing.T) {
	needBinaries(t, "victoria-metrics")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	startServer(t, dir, addr, "victoria-metrics", "-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(dir, "data"), "-loggerLevel=WARN")
	s, err := promwrite.Open("prometheus+http://"+addr+"/api/v1/write", promwrite.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	clock.Set(t0)
	s.Health = sink.NewHealthSeries(s)
	fn := serveWith(t, HandlerConfig{Store: s, Now: clock.Now})
	expectOK(t, postJSON(t, fn, e2eBody)) // the first outcome is written at once
	expectOK(t, postJSON(t, fn, e2eBody))
	if r := postJSON(t, fn, `{"id":`); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body: %d", r.StatusCode)
	}
	clock.Set(t0.Add(sink.HealthEvery - time.Second)) // not yet due
	expectOK(t, postJSON(t, fn, e2eBody))
	flush := func() {
		if resp, err := http.Get("http://" + addr + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
	}
	q := "sum by (outcome, reason) (pace_receiver_uploads_total)"
	pollQuery(t, "http://"+addr, q, t0.Add(30*time.Second), map[string]float64{"outcome=accepted;reason=none": 1}, flush)
	clock.Set(t0.Add(sink.HealthEvery))
	expectOK(t, postJSON(t, fn, e2eBody))
	pollQuery(t, "http://"+addr, q, t0.Add(sink.HealthEvery+time.Second), map[string]float64{"outcome=accepted;reason=none": 4, "outcome=refused;reason=invalid": 1}, flush)
	// The dashboard's panel: uploads per bar, by when they were written.
	panel := strings.NewReplacer("$lookback", "30d", "$__interval", "1h").Replace(healthQuery(t, dashboards.Prometheus))
	for _, c := range []struct {
		at   time.Time
		want map[string]float64
	}{
		{t0.Add(30 * time.Second), map[string]float64{"outcome=accepted;reason=none": 1}},
		{t0.Add(time.Hour), map[string]float64{"outcome=accepted;reason=none": 3, "outcome=refused;reason=invalid": 1}},
		{t0.Add(2*time.Hour + time.Minute), map[string]float64{"outcome=accepted;reason=none": 0, "outcome=refused;reason=invalid": 0}},
	} {
		if got := promQuery(t, "http://"+addr, panel, c.at); !maps.Equal(got, c.want) {
			t.Errorf("the health panel's bar ending %v: %v, want %v", c.at, got, c.want)
		}
	}
	// Its labels are outcome, reason and the instance: no id, no address.
	got := promQuery(t, "http://"+addr, "count by (id, operating_system, cli_version) (pace_receiver_uploads_total)", t0.Add(sink.HealthEvery+time.Second))
	if len(got) != 1 || got[""] != 2 {
		t.Fatalf("health series by id/os/version: %v, want one group of 2 without those labels", got)
	}
}
