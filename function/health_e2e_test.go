package function

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/promwrite"
)

// TestHealthSeriesInVictoriaMetrics: the receiver's outcome counts reach
// a real VictoriaMetrics as pace_receiver_uploads_total, without install
// ids, cumulative per instance, written once HealthEvery has passed.
func TestHealthSeriesInVictoriaMetrics(t *testing.T) {
	needBinaries(t, "victoria-metrics")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startServer(t, dir, addr, "victoria-metrics", "-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(dir, "data"), "-loggerLevel=WARN")
	s, err := promwrite.Open("prometheus+http://"+addr+"/api/v1/write", promwrite.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	clock.Set(t0)
	fn := serveWith(t, Config{Sink: s, Now: clock.Now, HealthSeries: true})
	expectOK(t, postJSON(t, fn, e2eBody)) // the first outcome is written at once
	expectOK(t, postJSON(t, fn, e2eBody))
	if r := postJSON(t, fn, `{"id":`); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body: %d", r.StatusCode)
	}
	clock.Set(t0.Add(HealthEvery - time.Second)) // not yet due
	expectOK(t, postJSON(t, fn, e2eBody))
	flush := func() {
		if resp, err := http.Get("http://" + addr + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
	}
	q := "sum by (outcome, reason) (pace_receiver_uploads_total)"
	pollQuery(t, "http://"+addr, q, t0.Add(30*time.Second), map[string]float64{"outcome=accepted;reason=none": 1}, flush)
	clock.Set(t0.Add(HealthEvery))
	expectOK(t, postJSON(t, fn, e2eBody))
	pollQuery(t, "http://"+addr, q, t0.Add(HealthEvery+time.Second), map[string]float64{"outcome=accepted;reason=none": 4, "outcome=refused;reason=invalid": 1}, flush)
	// Its labels are outcome, reason and the instance: no id, no address.
	got := promQuery(t, "http://"+addr, "count by (id, operating_system, cli_version) (pace_receiver_uploads_total)", t0.Add(HealthEvery+time.Second))
	if len(got) != 1 || got[""] != 2 {
		t.Fatalf("health series by id/os/version: %v, want one group of 2 without those labels", got)
	}
}
