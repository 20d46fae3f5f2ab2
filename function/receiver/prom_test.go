package receiver

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pace-cli/pace/function/internal/promwrite"
	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/payload"
)

// recordingPromSink keeps what it was given, or fails with err.
type recordingPromSink struct {
	storeDuties
	mu     sync.Mutex
	series []promwrite.Series
	err    error
}

func (s *recordingPromSink) Write(ctx context.Context, u *sink.Upload) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.series = append(s.series, promwrite.Convert(u)...)
	return nil
}

func newPromReceiver(t *testing.T, rec *recordingPromSink, modify ...func(*HandlerConfig)) *testReceiver {
	t.Helper()
	return newTestReceiver(t, append([]func(*HandlerConfig){func(c *HandlerConfig) { c.Store = rec }}, modify...)...)
}

func labels(kv ...string) []promwrite.Label {
	var l []promwrite.Label
	for i := 0; i < len(kv); i += 2 {
		l = append(l, promwrite.Label{Name: kv[i], Value: kv[i+1]})
	}
	return l
}

func TestPromSeries(t *testing.T) {
	rec := &recordingPromSink{}
	tr := newPromReceiver(t, rec)
	w := tr.post(body(`{"pace list tables":{"0":{"cumulative_count":2},"1":{"cumulative_count":1}},"pace":{"3":{"cumulative_count":4294967295}},"pace nope":{"0":{"cumulative_count":5}}}`))
	if w.Code != 200 || w.Body.String() != "OK" || w.Header().Get(DroppedHeader) != "1" {
		t.Fatalf("got %d %q dropped=%q", w.Code, w.Body, w.Header().Get(DroppedHeader))
	}
	ms := testNow.UnixMilli()
	want := []promwrite.Series{
		{Labels: labels("__name__", promwrite.MetricName, "cli_version", "v1.16.0", "command", "pace", "exit_code", "3", "id", testID, "operating_system", "linux"), Value: 4294967295, Timestamp: ms},
		{Labels: labels("__name__", promwrite.MetricName, "cli_version", "v1.16.0", "cmd1", "list", "cmd2", "tables", "command", "list tables", "exit_code", "0", "id", testID, "operating_system", "linux"), Value: 2, Timestamp: ms},
		{Labels: labels("__name__", promwrite.MetricName, "cli_version", "v1.16.0", "cmd1", "list", "cmd2", "tables", "command", "list tables", "exit_code", "1", "id", testID, "operating_system", "linux"), Value: 1, Timestamp: ms},
	}
	if !reflect.DeepEqual(rec.series, want) {
		t.Fatalf("sink got\n%+v\nwant\n%+v", rec.series, want)
	}
}

func TestPromSeriesDeepest(t *testing.T) {
	rec := &recordingPromSink{}
	tr := newPromReceiver(t, rec)
	if w := tr.post(body(`{"pace a b c d e":{"255":{"cumulative_count":0}}}`)); w.Code != 200 {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	want := labels("__name__", promwrite.MetricName, "cli_version", "v1.16.0", "cmd1", "a", "cmd2", "b", "cmd3", "c", "cmd4", "d", "cmd5", "e", "command", "a b c d e", "exit_code", payload.OtherExitCodeTag, "id", testID, "operating_system", "linux")
	if len(rec.series) != 1 || !reflect.DeepEqual(rec.series[0].Labels, want) || rec.series[0].Value != 0 {
		t.Fatalf("sink got %+v", rec.series)
	}
}

// Every label the transform can write is in PromLabelNames, sorted, and
// valid for Prometheus.
func TestPromLabelNames(t *testing.T) {
	names := promwrite.LabelNames()
	if !slices.IsSorted(names) {
		t.Fatalf("not sorted: %v", names)
	}
	for _, s := range writtenPromSeries(t) {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, l := range s.Labels {
			if !slices.Contains(names, l.Name) {
				t.Errorf("label %q is not in PromLabelNames", l.Name)
			}
		}
	}
}

// writtenPromSeries transforms the deepest possible path with the id on.
func writtenPromSeries(t *testing.T) []promwrite.Series {
	t.Helper()
	rec := &recordingPromSink{}
	tr := newPromReceiver(t, rec)
	if w := tr.post(body(`{"pace a b c d e":{"0":{"cumulative_count":1}}}`)); w.Code != 200 {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	return rec.series
}

func TestPromStoreRefusal(t *testing.T) {
	// As Mimir does, the store quotes the series, id and all.
	rec := &recordingPromSink{err: sink.Refuse(&promwrite.RejectedError{Status: "400 Bad Request", Reason: `out of order sample; series: pace_cli_invocations_total{id="` + testID + `"}`})}
	tr := newPromReceiver(t, rec)
	w := tr.post(goodBody)
	if w.Code != 422 || w.Header().Get("Retry-After") != "" || !strings.Contains(w.Body.String(), `"error":"sink: the store refused`) {
		t.Fatalf("got %d %q Retry-After=%q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if strings.Contains(w.Body.String(), "out of order") {
		t.Errorf("the store's reply reached the client: %s", w.Body)
	}
	lines := tr.logLines(t)
	if len(lines) != 1 || lines[0]["severity"] != "WARNING" || !strings.Contains(lines[0]["error"].(string), "out of order sample") {
		t.Fatalf("log: %v", lines)
	}
	if strings.Contains(tr.log.String(), testID) {
		t.Fatalf("the log shows the id: %s", tr.log)
	}

	rec.err = errors.New("remote write: 429 Too Many Requests")
	w = tr.post(goodBody)
	if w.Code != 503 || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("got %d %q Retry-After=%q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
}

func TestPromConfigFromEnv(t *testing.T) {
	_, st, err := loadAndOpen(promEnv("TELEMETRY_SINK", "prometheus+https://prometheus-prod-01-eu-west-0.grafana.net/api/prom/push", "PROMETHEUS_USER", "123", "PROMETHEUS_PASSWORD", "glc_secret"))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := st.(*promwrite.Sink)
	if !ok || s.URL != "https://prometheus-prod-01-eu-west-0.grafana.net/api/prom/push" || s.Auth != (promwrite.Auth{User: "123", Password: "glc_secret"}) {
		t.Fatalf("got %+v", st)
	}
	_, st, err = loadAndOpen(promEnv("TELEMETRY_SINK", "prometheus+http://127.0.0.1:9090/api/v1/write", "PROMETHEUS_BEARER_TOKEN", "tok"))
	if s, ok := st.(*promwrite.Sink); err != nil || !ok || s.Auth.BearerToken != "tok" {
		t.Fatalf("got %+v %v", st, err)
	}
	if _, err := NewHandler(HandlerConfig{Store: st}); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][]string{
		{"TELEMETRY_SINK", "prometheus+https://h/api/v1/write", "PROMETHEUS_USER", "u"},
		{"TELEMETRY_SINK", "prometheus+https://h/api/v1/write", "PROMETHEUS_PASSWORD", "glc_secret", "PROMETHEUS_BEARER_TOKEN", "glc_secret"},
		{"TELEMETRY_SINK", "prometheus+https://u:glc_secret@h/api/v1/write"},
	} {
		if _, err := LoadConfig(promEnv(kv...), os.ReadFile); err == nil || strings.Contains(err.Error(), "glc_secret") {
			t.Errorf("%v: %v", kv, err)
		}
	}
	if _, err := NewHandler(HandlerConfig{}); err == nil {
		t.Error("New took no sink")
	}
}

func promEnv(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// The sink cuts a long reply; where the cut falls inside the quoted id,
// the part that is left is removed too.
func TestIDCutShortStaysOutOfTheLog(t *testing.T) {
	reason := strings.Repeat("r", 250) + `series: pace_cli_invocations_total{id="` + testID + `"}`
	rec := &recordingPromSink{err: sink.Refuse(&promwrite.RejectedError{Status: "400 Bad Request", Reason: reason})}
	tr := newPromReceiver(t, rec)
	if w := tr.post(goodBody); w.Code != 422 {
		t.Fatalf("got %d", w.Code)
	}
	if strings.Contains(tr.log.String(), testID[:8]) {
		t.Fatalf("part of the id reached the log: %s", tr.log)
	}
}

func TestScrubID(t *testing.T) {
	for msg, want := range map[string]string{
		"x " + testID + " y":  "x [id] y",
		"cut " + testID[:13]:  "cut [id]",
		"short " + testID[:7]: "short " + testID[:7], // too short to be told from other text
	} {
		if got := scrubID(msg, testID); got != want {
			t.Errorf("scrubID(%q) = %q, want %q", msg, got, want)
		}
	}
}
