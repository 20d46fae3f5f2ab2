package receiver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/internal/promwrite"
)

func forgetReq(path, ct, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	return req
}

// Every bad erasure request gets a 4xx saying what is wrong, the id is
// never quoted or logged, and the sink is never reached.
func TestForgetRejectsBadInput(t *testing.T) {
	tr := newTestReceiver(t)
	near := strings.ToUpper(testID)
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
		want   string
	}{
		{"GET", httptest.NewRequest(http.MethodGet, "/telemetry/forget", nil), 405, "use POST"},
		{"DELETE", httptest.NewRequest(http.MethodDelete, "/telemetry/forget", nil), 405, "use POST"},
		{"not JSON type", forgetReq("/telemetry/forget", "text/plain", `{"id":"`+testID+`"}`), 415, "application/json"},
		{"not JSON", forgetReq("/telemetry/forget", "application/json", `id=`+testID), 400, "one JSON object"},
		{"two objects", forgetReq("/telemetry/forget", "application/json", `{"id":"`+testID+`"} {}`), 400, "nothing else"},
		{"extra field", forgetReq("/telemetry/forget", "application/json", `{"id":"`+testID+`","all":true}`), 400, "nothing else"},
		{"no id", forgetReq("/telemetry/forget", "application/json", `{}`), 400, "id: must be"},
		{"upper-case id", forgetReq("/telemetry/forget", "application/json", `{"id":"`+near+`"}`), 400, "id: must be"},
		{"too large", forgetReq("/telemetry/forget", "application/json", `{"id":"`+strings.Repeat("a", 2000)+`"}`), 413, "larger than"},
	} {
		w := tr.do(c.req)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, w.Code, w.Body, c.status, c.want)
		}
		if strings.Contains(w.Body.String(), near) {
			t.Errorf("%s: the answer quotes the id: %s", c.name, w.Body)
		}
	}
	if tr.sink.calls != 0 {
		t.Fatalf("the sink was called %d times", tr.sink.calls)
	}
	if strings.Contains(tr.log.String(), near) || strings.Contains(tr.log.String(), testID) {
		t.Fatalf("the log holds the id:\n%s", tr.log)
	}
	for _, l := range tr.logLines(t) {
		if l["erasure"] != true {
			t.Fatalf("a log line does not say it was an erasure request: %v", l)
		}
	}
}

// The TSDB sinks cannot delete by their write protocols: 501, naming the
// store's admin deletion, whatever the id; PACE's uploads on the same
// receiver are untouched.
func TestForgetOnTSDBSinks(t *testing.T) {
	prom, err := promwrite.Open("prometheus+http://127.0.0.1:1/api/v1/write", promwrite.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	for _, c := range []struct {
		name string
		sink sink.Store
		want []string
	}{
		{"prometheus", prom, []string{"remote write, which cannot delete", "/api/v1/admin/tsdb/delete_series", "clean_tombstones", "VictoriaMetrics"}},
		{"graphite", &graphite.Sink{W: &graphite.WriterSink{W: &lines}, Interval: time.Hour}, []string{"cannot delete series", "whisper files", "delSeries"}},
	} {
		var log bytes.Buffer
		h, err := NewHandler(HandlerConfig{Store: c.sink, Now: func() time.Time { return testNow }, Logger: NewLogger(&log), Commands: []string{"pace", "pace version"}})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, forgetReq("/telemetry/forget", "application/json", `{"id":"`+testID+`"}`))
		if w.Code != http.StatusNotImplemented {
			t.Fatalf("%s: %d %s", c.name, w.Code, w.Body)
		}
		for _, s := range c.want {
			if !strings.Contains(w.Body.String(), s) {
				t.Errorf("%s: answer lacks %q: %s", c.name, s, w.Body)
			}
		}
		if strings.Contains(log.String(), testID) {
			t.Errorf("%s: the log holds the id:\n%s", c.name, log.String())
		}
	}
	// The original fleet's upload, to /telemetry, on the Graphite sink.
	h, _ := NewHandler(HandlerConfig{Store: &graphite.Sink{W: &graphite.WriterSink{W: &lines}, Interval: time.Hour}, Now: func() time.Time { return testNow }, Logger: NewLogger(&bytes.Buffer{}), Commands: []string{"pace", "pace version"}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, forgetReq("/telemetry", "application/json", body(`{"pace version":{"0":{"cumulative_count":4}}}`)))
	if w.Code != 200 || w.Body.String() != "OK" || !strings.Contains(lines.String(), "id="+testID) {
		t.Fatalf("upload: %d %s; series %s", w.Code, w.Body, lines.String())
	}
}
