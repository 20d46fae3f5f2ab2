package receiver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/dashboards"
	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/internal/promwrite"
	"github.com/pace-cli/pace/function/internal/sink"
)

// healthBurst is the per-address bucket of the health test: a flood from
// one address has its first healthBurst uploads taken, the rest 429. The
// rate (TELEMETRY_SOURCE_RATE) refills one a day, never within a flood.
const (
	healthBurst = 2
	healthRate  = 1.0 / 86400
)

// healthSend is one request the health test makes, and the outcome it is
// made to have: the ground truth is this list, not what the receiver says
// (whose status is checked against it).
type healthSend struct {
	at       time.Time
	instance int    // which receiver instance gets it
	kind     string // accepted, invalid, content_type, method, too_large, flood
	addr     string // X-Forwarded-For: the source address
}

// healthSchedule is 48 hours of a known mix of outcomes from t0 on: some
// hours quiet, the others a burst at :10 of accepted uploads, bad JSON,
// wrong content types, GETs, bodies over the limit and floods from one
// address, then one accepted upload per instance at :30, which writes the
// hour's counts (more than sink.HealthEvery after the burst). Instance 0 serves
// hours 0-27, instance 1 hours 20-47: two instances at once for 8 hours,
// and a restart (a new receiver name, counting from zero).
func healthSchedule(t0 time.Time) []healthSend {
	var out []healthSend
	addrs := 0
	addr := func() string { // each a fresh address: only floods meet the bucket
		addrs++
		return fmt.Sprintf("10.0.%d.%d", addrs/250, addrs%250+1)
	}
	for h := range 48 {
		if h%5 == 3 {
			continue // a quiet hour: its bar must be empty
		}
		var inst []int
		if h < 28 {
			inst = append(inst, 0)
		}
		if h >= 20 {
			inst = append(inst, 1)
		}
		hour := t0.Add(time.Duration(h) * time.Hour)
		at, n := hour.Add(10*time.Minute), 0
		add := func(kind string, count int) {
			for range count {
				out = append(out, healthSend{at: at, instance: inst[n%len(inst)], kind: kind, addr: addr()})
				at, n = at.Add(time.Second), n+1
			}
		}
		add("accepted", 1+h%4)
		add("invalid", h%3)
		add("content_type", h%2)
		add("method", b2i(h%7 == 0))
		add("too_large", b2i(h%11 == 0))
		if h%6 == 1 {
			// A flood from one fresh address, all to one instance.
			from := fmt.Sprintf("198.51.100.%d", h)
			for range healthBurst + 1 + h%4 {
				out = append(out, healthSend{at: at, instance: inst[0], kind: "flood", addr: from})
				at = at.Add(time.Second)
			}
		}
		for i, in := range inst {
			out = append(out, healthSend{at: hour.Add(30*time.Minute + time.Duration(i)*time.Second), instance: in, kind: "accepted", addr: addr()})
		}
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// healthOutcomes is each request's outcome and reason, by its kind: a
// flood's first healthBurst uploads are accepted, the rest rate limited.
func healthOutcomes(sends []healthSend) [][2]string {
	out := make([][2]string, len(sends))
	flooded := map[string]int{}
	for i, s := range sends {
		switch s.kind {
		case "accepted":
			out[i] = [2]string{sink.Accepted, "none"}
		case "flood":
			out[i] = [2]string{sink.Accepted, "none"}
			if flooded[s.addr]++; flooded[s.addr] > healthBurst {
				out[i] = [2]string{sink.RateLimited, "source_rate"}
			}
		case "invalid", "content_type", "method", "too_large":
			out[i] = [2]string{sink.Refused, s.kind}
		default:
			panic(s.kind)
		}
	}
	return out
}

// healthTruth tallies the schedule by the hour each request was sent in
// (each hour's counts are written within it) and by outcome and reason.
func healthTruth(sends []healthSend) map[int64]map[[2]string]float64 {
	out := map[int64]map[[2]string]float64{}
	for i, k := range healthOutcomes(sends) {
		h := sends[i].at.Truncate(time.Hour).Unix()
		if out[h] == nil {
			out[h] = map[[2]string]float64{}
		}
		out[h][k]++
	}
	return out
}

// healthWant sums the truth over [from, to), keyed by key(outcome, reason).
func healthWant(truth map[int64]map[[2]string]float64, from, to time.Time, key func(kv ...string) string) map[string]float64 {
	out := map[string]float64{}
	for h, m := range truth {
		if h >= from.Unix() && h < to.Unix() {
			for k, n := range m {
				out[key("outcome", k[0], "reason", k[1])] += n
			}
		}
	}
	return out
}

// sendHealth makes the schedule's requests to two receiver instances, each
// with its own store from newStore (its health counts under a name of its
// own, as in two processes), with
// the test's clock, the given bucket and the source read from
// X-Forwarded-For, and checks each answer's status against its kind.
func sendHealth(t *testing.T, newStore func() sink.Store, sends []healthSend) {
	t.Helper()
	clock := &testClock{}
	var urls []string
	for range 2 {
		urls = append(urls, serveWith(t, HandlerConfig{Store: newStore(), Now: clock.Now,
			Source: SourceXFFLast, SourceRate: healthRate, SourceBurst: healthBurst}))
	}
	outcomes := healthOutcomes(sends)
	tooLarge := `{"id":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	for i, s := range sends {
		clock.Set(s.at)
		method, ct, body, want := http.MethodPost, "application/json", e2eBody, http.StatusOK
		switch s.kind {
		case "invalid":
			body, want = `{"metric_points":`, http.StatusBadRequest
		case "content_type":
			ct, want = "text/plain", http.StatusUnsupportedMediaType
		case "method":
			method, body, want = http.MethodGet, "", http.StatusMethodNotAllowed
		case "too_large":
			body, want = tooLarge, http.StatusRequestEntityTooLarge
		}
		if outcomes[i][0] == sink.RateLimited {
			want = http.StatusTooManyRequests
		}
		req, err := http.NewRequest(method, urls[s.instance], strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-Forwarded-For", s.addr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s at %v: %d, want %d", s.kind, s.at, resp.StatusCode, want)
		}
	}
}

// healthScenarios are views of the 48 hours: all of them by hour, by 6h and
// by day, an odd range by 5h, and one not on whole hours (Grafana's "last
// 2 days") by hour and by 6h.
func healthScenarios(t0 time.Time) []scenario {
	return []scenario{
		{name: "48h by hour", from: t0, to: t0.Add(48 * time.Hour), step: time.Hour},
		{name: "48h by 6h", from: t0, to: t0.Add(48 * time.Hour), step: 6 * time.Hour},
		{name: "48h by day", from: t0, to: t0.Add(48 * time.Hour), step: 24 * time.Hour},
		{name: "odd range by 5h", from: t0.Add(7 * time.Hour), to: t0.Add(38 * time.Hour), step: 5 * time.Hour},
		{name: "unaligned by hour", from: t0.Add(7*time.Hour + 23*time.Minute), to: t0.Add(38*time.Hour + 23*time.Minute), step: time.Hour},
		{name: "unaligned by 6h", from: t0.Add(7*time.Hour + 23*time.Minute), to: t0.Add(38*time.Hour + 23*time.Minute), step: 6 * time.Hour},
	}
}

// TestHealthPanelsAgainstSentOutcomes: 48 simulated hours of a known mix
// of outcomes go through two real receiver instances into a real
// carbon-cache with graphite-web, a real Prometheus and a real
// VictoriaMetrics; each dashboard's "Receiver health" panel, run as
// Grafana runs it, must show in every bar exactly the uploads sent in it,
// by outcome and reason.
func TestHealthPanelsAgainstSentOutcomes(t *testing.T) {
	needBinaries(t, "prometheus", "victoria-metrics", "carbon-cache", "graphite-manage")
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-50 * time.Hour)
	sends := healthSchedule(t0)
	truth := healthTruth(sends)
	total := healthWant(truth, t0, t0.Add(48*time.Hour), promKey)
	t.Logf("sent %d requests over 48 h: %v", len(sends), total)
	if len(total) != 6 {
		t.Fatalf("the schedule lacks an outcome: %v", total)
	}

	series := map[[3]string]bool{} // one per instance, outcome and reason
	for i, k := range healthOutcomes(sends) {
		series[[3]string{fmt.Sprint(sends[i].instance), k[0], k[1]}] = true
	}

	carbonAddr, graphiteURL := startGraphite(t)
	promURL := startPrometheus(t)
	vmURL := startVictoriaMetrics(t)
	sendHealth(t, func() sink.Store {
		s := &graphite.Sink{W: &graphite.CarbonSink{Addr: carbonAddr}, Interval: time.Hour}
		s.Health = sink.NewHealthSeries(s)
		return s
	}, sends)
	for _, base := range []string{promURL, vmURL} {
		sendHealth(t, func() sink.Store {
			s, err := promwrite.Open("prometheus+"+base+"/api/v1/write", promwrite.Auth{})
			if err != nil {
				t.Fatal(err)
			}
			s.Health = sink.NewHealthSeries(s)
			return s
		}, sends)
	}

	t.Run("Graphite", func(t *testing.T) {
		checkGraphiteHealth(t, graphiteURL, t0, truth, len(series))
	})
	t.Run("Prometheus", func(t *testing.T) {
		checkPromHealth(t, promURL, t0, truth, nil)
	})
	t.Run("VictoriaMetrics", func(t *testing.T) {
		checkPromHealth(t, vmURL, t0, truth, func() {
			if resp, err := http.Get(vmURL + "/internal/force_flush"); err == nil {
				resp.Body.Close()
			}
		})
	})
}

// checkGraphiteHealth waits until graphite-web finds all n health series
// (carbon tags new series in batches), then runs the panel's target in
// each scenario. The buckets are aligned as checkGraphiteDashboard says:
// the one drawn at B holds what was written in [B-1h, B-1h+step). The
// first point is the whole hour after the range's start, so the first bar
// holds all of the hour the range starts in; the hour the range ends in,
// if it ends within one, has no point in the range, and shows in no bar.
func checkGraphiteHealth(t *testing.T, base string, t0 time.Time, truth map[int64]map[[2]string]float64, n int) {
	deadline := time.Now().Add(e2eWait)
	for {
		got, err := graphiteRenderErr(base, "countSeries(seriesByTag('name="+graphite.HealthMetric+"'))", t0, time.Now())
		if err == nil && len(got) == 1 && len(got[0].points) > 0 {
			if v := got[0].points[len(got[0].points)-1].v; v != nil && int(*v) == n {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("graphite-web finds %v health series (%v), want %d", got, err, n)
		}
		time.Sleep(300 * time.Millisecond)
	}
	target := healthQuery(t, dashboards.Graphite)
	bars := 0
	for _, sc := range healthScenarios(t0) {
		q := substitute(t, target, sc, graphiteCommand)
		buckets := map[int64]map[string]float64{}
		for _, s := range graphiteRender(t, base, q, sc.from, sc.to) {
			for _, p := range s.points {
				if p.v != nil && *p.v != 0 {
					if buckets[p.t] == nil {
						buckets[p.t] = map[string]float64{}
					}
					buckets[p.t][s.name] = *p.v
				}
			}
		}
		step := int64(sc.step / time.Second)
		first, last := sc.from.Truncate(time.Hour).Add(time.Hour).Unix(), sc.to.Truncate(time.Hour).Unix()
		for b := first; b <= last; b += step {
			from, to := time.Unix(b-3600, 0), time.Unix(min(b-3600+step, last), 0)
			exp := healthWant(truth, from, to, graphiteKey)
			if !sameValues(buckets[b], exp) {
				t.Errorf("%s: bar at %v [%v, %v): got %v, want %v", sc.name, time.Unix(b, 0).UTC(), from.UTC(), to.UTC(), buckets[b], exp)
			}
			delete(buckets, b)
			bars++
		}
		for b, got := range buckets {
			t.Errorf("%s: a bar at %v that none should have: %v", sc.name, time.Unix(b, 0).UTC(), got)
		}
	}
	t.Logf("Graphite: %d bars in %d views equal the uploads sent in them", bars, len(healthScenarios(t0)))
}

// checkPromHealth runs the Prometheus panel's expression as Grafana does
// (a range query, start and end aligned down to the step; the point at T
// covers (T-step, T]) in each scenario. Nothing is written on an hour's
// boundary, so (T-step, T] holds the hours [T-step, T).
func checkPromHealth(t *testing.T, base string, t0 time.Time, truth map[int64]map[[2]string]float64, flush func()) {
	expr := healthQuery(t, promDashboard)
	// Wait until the store answers with every write (flush: VictoriaMetrics
	// makes what it took searchable in batches).
	last := t0.Add(47*time.Hour + 31*time.Minute)
	pollQuery(t, base, "sum by (outcome, reason) (max by (receiver, outcome, reason) (last_over_time("+promwrite.HealthMetric+"[30d])))", last,
		healthWant(truth, t0, t0.Add(48*time.Hour), promKey), flush)
	bars := 0
	for _, sc := range healthScenarios(t0) {
		q := substitute(t, expr, sc, promCommand)
		step := int64(sc.step / time.Second)
		start := time.Unix(sc.from.Unix()/step*step, 0)
		end := time.Unix(sc.to.Unix()/step*step, 0)
		res := promAPI(t, base, q, false, time.Time{}, start, end, sc.step)
		for ts := start; !ts.After(end); ts = ts.Add(sc.step) {
			got := map[string]float64{}
			for _, r := range res {
				if v, ok := r.points[ts.Unix()]; ok && v != 0 {
					got[r.key] = v
				}
			}
			exp := healthWant(truth, ts.Add(-sc.step), ts, promKey)
			if !sameValues(got, exp) {
				t.Errorf("%s: bar at %v: got %v, want %v", sc.name, ts.UTC(), got, exp)
			}
			bars++
		}
	}
	t.Logf("%s: %d bars in %d views equal the uploads sent in them", t.Name(), bars, len(healthScenarios(t0)))
}
