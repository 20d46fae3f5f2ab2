package receiver

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/internal/promwrite"
	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/payload"
)

const testID = "0d2f7a8e-91c4-4b6a-8f3e-5c1d2e3f4a5b"

// testNow is the fixed receive time of every test request.
var testNow = time.Unix(1795000000, 0)

// recordingSink keeps what it was given, as uploads and as the Graphite
// series they become (at interval, default an hour), or fails with err.
// storeDuties gives a test store the duties of a sink.Store it does not
// test: it cannot erase, keeps no health figures, is always ready.
type storeDuties struct{}

func (storeDuties) Erase(context.Context, string) (map[string]int64, error) {
	return nil, &sink.CannotEraseError{Store: "test", How: "a test store cannot erase"}
}
func (storeDuties) Count(context.Context, time.Time, string, string) {}
func (storeDuties) Ready(context.Context) error                      { return nil }
func (storeDuties) Close() error                                     { return nil }

type recordingSink struct {
	storeDuties
	mu       sync.Mutex
	calls    int
	uploads  []*sink.Upload
	series   []graphite.Series
	interval time.Duration
	err      error
}

func (s *recordingSink) Write(ctx context.Context, u *sink.Upload) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return s.err
	}
	s.uploads = append(s.uploads, u)
	s.series = append(s.series, graphite.Convert(u, int(cmp.Or(s.interval, time.Hour)/time.Second))...)
	return nil
}

type testReceiver struct {
	h    http.Handler
	sink *recordingSink
	log  *bytes.Buffer
}

// newTestReceiver builds a receiver with its own allow-list, so that tests
// do not depend on the generated commands.txt.
func newTestReceiver(t testing.TB, modify ...func(*HandlerConfig)) *testReceiver {
	t.Helper()
	tr := &testReceiver{sink: &recordingSink{}, log: &bytes.Buffer{}}
	cfg := HandlerConfig{
		Store:    tr.sink,
		Now:      func() time.Time { return testNow },
		Logger:   NewLogger(tr.log),
		Commands: []string{"pace", "pace version", "pace list tables", "pace a b c d e"},
	}
	for _, m := range modify {
		m(&cfg)
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.h = h
	return tr
}

func (tr *testReceiver) post(body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return tr.do(req)
}

func (tr *testReceiver) do(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	tr.h.ServeHTTP(w, req)
	return w
}

// logLines returns the receiver's log, one decoded JSON object per line.
func (tr *testReceiver) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(tr.log.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

// body returns an upload body with the given metric_points JSON.
func body(points string) string {
	return `{"metric_points":` + points + `,"cli_version":"v1.16.0","operating_system":"linux","id":"` + testID + `"}`
}

const goodBody = `{"metric_points":{"pace list tables":{"0":{"cumulative_count":2},"1":{"cumulative_count":1}},"pace version":{"0":{"cumulative_count":17}}},"cli_version":"v1.16.0","operating_system":"linux","id":"` + testID + `"}`

func tags(kv ...string) []graphite.Tag {
	var t []graphite.Tag
	for i := 0; i < len(kv); i += 2 {
		t = append(t, graphite.Tag{Key: kv[i], Value: kv[i+1]})
	}
	return t
}

func TestAcceptsUpload(t *testing.T) {
	tr := newTestReceiver(t)
	w := tr.post(goodBody)
	if w.Code != 200 || w.Body.String() != "OK" {
		t.Fatalf("got %d %q, want 200 OK", w.Code, w.Body)
	}
	if got := w.Header().Get(DroppedHeader); got != "0" {
		t.Errorf("%s = %q, want 0", DroppedHeader, got)
	}
	ts := testNow.Unix()
	common := []string{"cli_version", "v1.16.0", "operating_system", "linux", "id", testID}
	want := []graphite.Series{
		{Name: graphite.MetricName, Tags: tags(append([]string{"cmd1", "list", "cmd2", "tables", "command", "list.tables", "exit_code", "0"}, common...)...), Value: 2, Time: ts, Interval: 3600},
		{Name: graphite.MetricName, Tags: tags(append([]string{"cmd1", "list", "cmd2", "tables", "command", "list.tables", "exit_code", "1"}, common...)...), Value: 1, Time: ts, Interval: 3600},
		{Name: graphite.MetricName, Tags: tags(append([]string{"cmd1", "version", "command", "version", "exit_code", "0"}, common...)...), Value: 17, Time: ts, Interval: 3600},
	}
	if !reflect.DeepEqual(tr.sink.series, want) {
		t.Fatalf("series\n got %+v\nwant %+v", tr.sink.series, want)
	}
}

func TestRootCommandAndLimits(t *testing.T) {
	tr := newTestReceiver(t, func(c *HandlerConfig) { c.Store.(*recordingSink).interval = 15 * time.Minute })
	w := tr.post(body(`{"pace":{"255":{"cumulative_count":4294967295}},"pace a b c d e":{"0":{"cumulative_count":0}}}`))
	if w.Code != 200 {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if len(tr.sink.series) != 2 {
		t.Fatalf("got %d series, want 2", len(tr.sink.series))
	}
	root, deep := tr.sink.series[0], tr.sink.series[1]
	wantDeep := tags("cmd1", "a", "cmd2", "b", "cmd3", "c", "cmd4", "d", "cmd5", "e", "command", "a.b.c.d.e", "exit_code", "0",
		"cli_version", "v1.16.0", "operating_system", "linux", "id", testID)
	if !reflect.DeepEqual(deep.Tags, wantDeep) || deep.Value != 0 || deep.Interval != 900 {
		t.Errorf("deep path: got %+v", deep)
	}
	wantRoot := tags("command", graphite.RootCommand, "exit_code", payload.OtherExitCodeTag, "cli_version", "v1.16.0", "operating_system", "linux", "id", testID)
	if !reflect.DeepEqual(root.Tags, wantRoot) || root.Value != 4294967295 {
		t.Errorf("root: got %+v", root)
	}
}

func TestDropsUnknownPaths(t *testing.T) {
	tr := newTestReceiver(t)
	w := tr.post(body(`{"pace version":{"0":{"cumulative_count":1}},"pace secret-command":{"0":{"cumulative_count":5},"2":{"cumulative_count":1}},"pace list":{"0":{"cumulative_count":1}}}`))
	if w.Code != 200 || w.Body.String() != "OK" {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
	if got := w.Header().Get(DroppedHeader); got != "3" {
		t.Errorf("%s = %q, want 3", DroppedHeader, got)
	}
	if len(tr.sink.series) != 1 || tr.sink.series[0].Tags[0] != (graphite.Tag{Key: "cmd1", Value: "version"}) {
		t.Fatalf("series: %+v", tr.sink.series)
	}
	// Only unknown paths: nothing to deliver, so the sink is not called.
	tr2 := newTestReceiver(t)
	w = tr2.post(body(`{"pace nope":{"0":{"cumulative_count":1}}}`))
	if w.Code != 200 || w.Header().Get(DroppedHeader) != "1" || tr2.sink.calls != 0 {
		t.Fatalf("got %d %q dropped=%s calls=%d", w.Code, w.Body, w.Header().Get(DroppedHeader), tr2.sink.calls)
	}
}

func TestEmptyUploadAndCharset(t *testing.T) {
	tr := newTestReceiver(t)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body(`{}`)))
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	w := tr.do(req)
	if w.Code != 200 || w.Body.String() != "OK" || tr.sink.calls != 0 {
		t.Fatalf("got %d %q, sink calls %d", w.Code, w.Body, tr.sink.calls)
	}
}

func TestBodyAtTheLimit(t *testing.T) {
	tr := newTestReceiver(t)
	b := goodBody + strings.Repeat(" ", MaxBodyBytes-len(goodBody))
	if w := tr.post(b); w.Code != 200 {
		t.Fatalf("body of exactly %d bytes: got %d %s", len(b), w.Code, w.Body)
	}
}

func TestMaxSeries(t *testing.T) {
	tr := newTestReceiver(t)
	if w := tr.post(body(manySeries(1000))); w.Code != 200 {
		t.Fatalf("1000 series: got %d %s", w.Code, w.Body)
	}
	// Exit codes above 5 are folded into one series per path, but for a
	// crash (70) and the three signal codes (129, 130, 143): 4 paths times
	// 0-5, those 4 and "other".
	kept := 0
	for c := payload.MaxPaceExitCode + 1; c <= payload.MaxExitCode; c++ {
		if payload.KeptExitCode(c) {
			kept++
		}
	}
	if kept != 4 || len(tr.sink.series) != 4*(payload.MaxPaceExitCode+2+kept) {
		t.Fatalf("got %d series (%d codes above 5 kept)", len(tr.sink.series), kept)
	}
	// manySeries gives code c the count c, and "pace" codes 0..249: its
	// "other" series holds the sum of 6..249 but the kept codes.
	var other uint64
	for c := 6; c*4 < 1000; c++ {
		if !payload.KeptExitCode(c) {
			other += uint64(c)
		}
	}
	for _, s := range tr.sink.series {
		if s.Tags[0] == (graphite.Tag{Key: "command", Value: graphite.RootCommand}) && s.Tags[1].Value == payload.OtherExitCodeTag && s.Value != other {
			t.Fatalf("pace other = %d, want %d", s.Value, other)
		}
	}
}

// manySeries returns metric_points with n counters over known paths.
func manySeries(n int) string {
	paths := []string{"pace", "pace version", "pace list tables", "pace a b c d e"}
	var b strings.Builder
	b.WriteString("{")
	for i, p := range paths {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:{", p)
		first := true
		for code := 0; code < 256; code++ {
			if code*len(paths)+i >= n {
				break
			}
			if !first {
				b.WriteString(",")
			}
			first = false
			fmt.Fprintf(&b, `"%d":{"cumulative_count":%d}`, code, code)
		}
		b.WriteString("}")
	}
	b.WriteString("}")
	return b.String()
}

func TestRejectsBadInput(t *testing.T) {
	big := strings.Repeat(" ", MaxBodyBytes)
	tests := []struct {
		name, method, contentType, body string
		unknownLength                   bool // no Content-Length
		status                          int
		errPrefix                       string
	}{
		{name: "GET", method: "GET", status: 405, errPrefix: "method:"},
		{name: "PUT", method: "PUT", body: goodBody, status: 405, errPrefix: "method:"},
		{name: "no content type", contentType: "-", body: goodBody, status: 415, errPrefix: "content-type:"},
		{name: "text/plain", contentType: "text/plain", body: goodBody, status: 415, errPrefix: "content-type:"},
		{name: "latin1", contentType: "application/json; charset=latin1", body: goodBody, status: 415, errPrefix: "content-type:"},
		{name: "json-ish", contentType: "application/jsonx", body: goodBody, status: 415, errPrefix: "content-type:"},
		{name: "too large", body: goodBody + big, status: 413, errPrefix: "body:"},
		{name: "too large, no length", body: goodBody + big, unknownLength: true, status: 413, errPrefix: "body:"},
		{name: "empty", body: "", status: 400, errPrefix: "body:"},
		{name: "malformed", body: `{"metric_points":`, status: 400, errPrefix: "metric_points:"},
		{name: "not JSON", body: `hello`, status: 400, errPrefix: "body:"},
		{name: "array", body: `[]`, status: 400, errPrefix: "body:"},
		{name: "null", body: `null`, status: 400, errPrefix: "body:"},
		{name: "trailing data", body: goodBody + `x`, status: 400, errPrefix: "body:"},
		{name: "two objects", body: goodBody + goodBody, status: 400, errPrefix: "body:"},
		{name: "unknown field", body: strings.Replace(goodBody, `"id"`, `"extra":1,"id"`, 1), status: 400, errPrefix: `"extra": unknown field`},
		{name: "field in other case", body: strings.Replace(goodBody, `"id"`, `"ID"`, 1), status: 400, errPrefix: `"ID": unknown field`},
		{name: "duplicate field", body: strings.Replace(goodBody, `"id"`, `"operating_system":"linux","id"`, 1), status: 400, errPrefix: "operating_system: duplicate"},
		{name: "missing id", body: `{"metric_points":{},"cli_version":"v1.16.0","operating_system":"linux"}`, status: 400, errPrefix: "id: missing"},
		{name: "missing metric_points", body: `{"cli_version":"v1.16.0","operating_system":"linux","id":"` + testID + `"}`, status: 400, errPrefix: "metric_points: missing"},
		{name: "null id", body: strings.Replace(goodBody, `"`+testID+`"`, `null`, 1), status: 400, errPrefix: "id: must be a string"},
		{name: "numeric id", body: strings.Replace(goodBody, `"`+testID+`"`, `42`, 1), status: 400, errPrefix: "id: must be a string"},
		{name: "id not a UUID", body: strings.Replace(goodBody, testID, "not-a-uuid", 1), status: 400, errPrefix: "id: must be"},
		{name: "id uppercase", body: strings.Replace(goodBody, testID, strings.ToUpper(testID), 1), status: 400, errPrefix: "id: must be"},
		{name: "version short", body: strings.Replace(goodBody, `"v1.16.0"`, `"v1.16"`, 1), status: 400, errPrefix: "cli_version:"},
		{name: "version injection", body: strings.Replace(goodBody, `"v1.16.0"`, `"v1.16.0;id=x"`, 1), status: 400, errPrefix: "cli_version:"},
		{name: "version space", body: strings.Replace(goodBody, `"v1.16.0"`, `"v1.16.0 9 0"`, 1), status: 400, errPrefix: "cli_version:"},
		{name: "version too long", body: strings.Replace(goodBody, `"v1.16.0"`, `"v1.16.0-`+strings.Repeat("a", 60)+`"`, 1), status: 400, errPrefix: "cli_version:"},
		{name: "version null", body: strings.Replace(goodBody, `"v1.16.0"`, `null`, 1), status: 400, errPrefix: "cli_version: must be a string"},
		{name: "os unknown", body: strings.Replace(goodBody, `"linux"`, `"templeos"`, 1), status: 400, errPrefix: "operating_system:"},
		{name: "os case", body: strings.Replace(goodBody, `"linux"`, `"Linux"`, 1), status: 400, errPrefix: "operating_system:"},
		{name: "metric_points null", body: body(`null`), status: 400, errPrefix: "metric_points: must be a JSON object"},
		{name: "metric_points array", body: body(`[]`), status: 400, errPrefix: "metric_points: must be a JSON object"},
		{name: "duplicate path", body: body(`{"pace version":{"0":{"cumulative_count":1}},"pace version":{"1":{"cumulative_count":1}}}`), status: 400, errPrefix: `metric_points["pace version"]: duplicate`},
		{name: "exit code 256", body: body(`{"pace version":{"256":{"cumulative_count":1}}}`), status: 400, errPrefix: `metric_points["pace version"]["256"]: exit code`},
		{name: "exit code -1", body: body(`{"pace version":{"-1":{"cumulative_count":1}}}`), status: 400, errPrefix: `metric_points["pace version"]["-1"]: exit code`},
		{name: "exit code 01", body: body(`{"pace version":{"01":{"cumulative_count":1}}}`), status: 400, errPrefix: `metric_points["pace version"]["01"]: exit code`},
		{name: "exit code +1", body: body(`{"pace version":{"+1":{"cumulative_count":1}}}`), status: 400, errPrefix: `metric_points["pace version"]["+1"]: exit code`},
		{name: "exit code word", body: body(`{"pace version":{"ok":{"cumulative_count":1}}}`), status: 400, errPrefix: `metric_points["pace version"]["ok"]: exit code`},
		{name: "duplicate exit code", body: body(`{"pace version":{"0":{"cumulative_count":1},"0":{"cumulative_count":2}}}`), status: 400, errPrefix: `metric_points["pace version"]["0"]: duplicate`},
		{name: "codes not an object", body: body(`{"pace version":[1]}`), status: 400, errPrefix: `metric_points["pace version"]: must be a JSON object`},
		{name: "bare count", body: body(`{"pace version":{"0":5}}`), status: 400, errPrefix: `metric_points["pace version"]["0"]: must be a JSON object`},
		{name: "count negative", body: body(`{"pace version":{"0":{"cumulative_count":-1}}}`), status: 400, errPrefix: `metric_points["pace version"]["0"].cumulative_count:`},
		{name: "count over 2^32-1", body: body(`{"pace version":{"0":{"cumulative_count":4294967296}}}`), status: 400, errPrefix: `metric_points["pace version"]["0"].cumulative_count:`},
		{name: "count fraction", body: body(`{"pace version":{"0":{"cumulative_count":1.5}}}`), status: 400, errPrefix: `metric_points["pace version"]["0"].cumulative_count:`},
		{name: "count exponent", body: body(`{"pace version":{"0":{"cumulative_count":1e3}}}`), status: 400, errPrefix: `metric_points["pace version"]["0"].cumulative_count:`},
		{name: "count string", body: body(`{"pace version":{"0":{"cumulative_count":"3"}}}`), status: 400, errPrefix: `metric_points["pace version"]["0"].cumulative_count: must be a number`},
		{name: "count missing", body: body(`{"pace version":{"0":{}}}`), status: 400, errPrefix: `metric_points["pace version"]["0"].cumulative_count: missing`},
		{name: "point unknown field", body: body(`{"pace version":{"0":{"cumulative_count":1,"extra":2}}}`), status: 400, errPrefix: `metric_points["pace version"]["0"]["extra"]: unknown field`},
		{name: "over 1000 series", body: body(manySeries(1001)), status: 400, errPrefix: "metric_points: more than 1000 series"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestReceiver(t)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			var r io.Reader = strings.NewReader(tc.body)
			if tc.unknownLength {
				r = io.MultiReader(r) // hides the length from NewRequest
			}
			req := httptest.NewRequest(method, "/", r)
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			w := tr.do(req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var e struct{ Error string }
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("error body is not {\"error\": ...}: %v", err)
			}
			if !strings.HasPrefix(e.Error, tc.errPrefix) {
				t.Errorf("error %q, want prefix %q", e.Error, tc.errPrefix)
			}
			if tr.sink.calls != 0 {
				t.Errorf("sink called %d times for a bad request", tr.sink.calls)
			}
			if tc.status == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", w.Header().Get("Allow"))
			}
			if l := strings.ToLower(tr.log.String()); strings.Contains(l, testID) {
				t.Errorf("log holds the id: %s", tr.log)
			}
		})
	}
}

func TestSinkFailure(t *testing.T) {
	tr := newTestReceiver(t)
	tr.sink.err = errors.New("connection refused")
	w := tr.post(goodBody)
	if w.Code != 503 {
		t.Fatalf("got %d %s, want 503", w.Code, w.Body)
	}
	if w.Header().Get("Retry-After") != "60" {
		t.Errorf("Retry-After = %q, want 60", w.Header().Get("Retry-After"))
	}
	if strings.Contains(w.Body.String(), "OK") || !strings.Contains(w.Body.String(), `"error":"sink:`) {
		t.Errorf("body %s", w.Body)
	}
	lines := tr.logLines(t)
	if len(lines) != 1 || lines[0]["severity"] != "ERROR" || !strings.Contains(fmt.Sprint(lines[0]["error"]), "connection refused") {
		t.Fatalf("log: %v", lines)
	}
}

// blockingSink waits for its context, as a sink that hangs does.
type blockingSink struct{ storeDuties }

func (blockingSink) Write(ctx context.Context, _ *sink.Upload) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestTimeout(t *testing.T) {
	tr := newTestReceiver(t, func(c *HandlerConfig) { c.Store = blockingSink{}; c.Timeout = 50 * time.Millisecond })
	if w := tr.post(goodBody); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d %s, want 503 with Retry-After", w.Code, w.Body)
	}
}

type panickingSink struct{ storeDuties }

func (panickingSink) Write(context.Context, *sink.Upload) error { panic("boom") }

func TestPanicIsA500(t *testing.T) {
	tr := newTestReceiver(t, func(c *HandlerConfig) { c.Store = panickingSink{} })
	w := tr.post(goodBody)
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"error":"internal:`) {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	lines := tr.logLines(t)
	if len(lines) != 1 || lines[0]["severity"] != "ERROR" || !strings.Contains(fmt.Sprint(lines[0]["error"]), "panic: boom") {
		t.Fatalf("log: %v", lines)
	}
	// The receiver still serves after a panic.
	tr.h = newTestReceiver(t).h
	if w := tr.post(goodBody); w.Code != 200 {
		t.Fatalf("after panic: %d", w.Code)
	}
}

func TestOneLogLinePerRequestWithoutID(t *testing.T) {
	tr := newTestReceiver(t)
	tr.post(goodBody)
	tr.post(strings.Replace(goodBody, "v1.16.0", "bad", 1))
	tr.do(httptest.NewRequest("GET", "/", nil))
	lines := tr.logLines(t)
	if len(lines) != 3 {
		t.Fatalf("got %d log lines, want 3:\n%s", len(lines), tr.log)
	}
	if strings.Contains(tr.log.String(), testID) {
		t.Fatalf("log holds the installation id:\n%s", tr.log)
	}
	wantSeverity := []string{"INFO", "WARNING", "WARNING"}
	wantStatus := []float64{200, 400, 405}
	for i, l := range lines {
		if l["severity"] != wantSeverity[i] || l["message"] != "request" {
			t.Errorf("line %d: %v", i, l)
		}
		req, _ := l["httpRequest"].(map[string]any)
		if req["status"] != wantStatus[i] {
			t.Errorf("line %d: status %v, want %v", i, req["status"], wantStatus[i])
		}
		if _, ok := l["level"]; ok {
			t.Errorf("line %d has slog's level key instead of severity only", i)
		}
	}
	if lines[0]["series"] != float64(3) || lines[0]["cli_version"] != "v1.16.0" {
		t.Errorf("first line: %v", lines[0])
	}
}

func TestEmbeddedCommands(t *testing.T) {
	paths := Commands()
	has := map[string]bool{}
	for _, p := range paths {
		has[p] = true
	}
	if !has["pace"] || !has["pace version"] {
		t.Fatalf("embedded allow-list lacks pace or pace version: %q", paths)
	}
	// The default receiver uses it.
	sink := &recordingSink{}
	h, err := NewHandler(HandlerConfig{Store: sink, Logger: NewLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/", strings.NewReader(body(`{"pace version":{"0":{"cumulative_count":1}},"pace no-such-command-here":{"0":{"cumulative_count":1}}}`)))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || w.Header().Get(DroppedHeader) != "1" || len(sink.series) != 1 {
		t.Fatalf("got %d dropped=%s series=%d", w.Code, w.Header().Get(DroppedHeader), len(sink.series))
	}
}

func TestParseCommands(t *testing.T) {
	got, err := parseCommands("# comment\n\npace\r\npace version\n")
	if err != nil || !reflect.DeepEqual(got, []string{"pace", "pace version"}) {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, bad := range []string{"pace Version\n", "kubectl\n", "pace a;b\n", " pace\n"} {
		if _, err := parseCommands(bad); err == nil {
			t.Errorf("parseCommands(%q) accepted it", bad)
		}
	}
	if _, err := NewHandler(HandlerConfig{Store: &recordingSink{}, Commands: []string{"pace x;y=z"}}); err == nil {
		t.Error("New accepted a malformed allow-list")
	}
}

// loadAndOpen reads a configuration with LoadConfig and opens its store
// (none of them connects), as a Receiver does on its first request.
func loadAndOpen(getenv func(string) string) (Config, sink.Store, error) {
	cfg, err := LoadConfig(getenv, os.ReadFile)
	if err != nil {
		return Config{}, nil, err
	}
	st, err := cfg.OpenStore(context.Background(), Options{Stdout: io.Discard, Logger: NewLogger(io.Discard)})
	return cfg, st, err
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cfg, st, err := loadAndOpen(env())
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := st.(*graphite.Sink); !ok || s.Interval != time.Hour || cfg.Timeout != DefaultTimeout {
		t.Fatalf("defaults: %+v", cfg)
	} else if _, ok := s.W.(*graphite.WriterSink); !ok {
		t.Fatalf("default writer: %T", s.W)
	}
	cfg, st, err = loadAndOpen(env("TELEMETRY_SINK", "carbon+tcp://127.0.0.1:2003", "TELEMETRY_ID_TAG", "on", "TELEMETRY_INTERVAL", "900", "TELEMETRY_TIMEOUT", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := st.(*graphite.Sink); !ok || s.Interval != 15*time.Minute || cfg.Timeout != 3*time.Second {
		t.Fatalf("got %+v", cfg)
	} else if c, ok := s.W.(*graphite.CarbonSink); !ok || c.Addr != "127.0.0.1:2003" {
		t.Fatalf("carbon: %+v", s.W)
	}
	cfg, st, err = loadAndOpen(env("TELEMETRY_SINK", "prometheus+https://prom.example.net/api/prom/push", "PROMETHEUS_BEARER_TOKEN", "tok"))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := st.(*promwrite.Sink); !ok || s.URL != "https://prom.example.net/api/prom/push" || s.Auth.BearerToken != "tok" {
		t.Fatalf("remote write: %+v", st)
	}
	cfg, st, err = loadAndOpen(env("TELEMETRY_SINK", "https://graphite.example.net/graphite/metrics", "GRAPHITE_USER", "123", "GRAPHITE_API_KEY", "glc_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := st.(*graphite.Sink).W.(*graphite.HTTPSink); !ok || s.User != "123" || s.Key != "glc_secret" {
		t.Fatalf("got %+v", st)
	}
	bad := [][]string{
		{"TELEMETRY_ID_TAG", "no"},
		{"TELEMETRY_SINK", "prometheus+https://prom.example.net/push", "PROMETHEUS_USER", "u"}, // no password
		{"TELEMETRY_INTERVAL", "0"},
		{"TELEMETRY_INTERVAL", "1h"},
		{"TELEMETRY_TIMEOUT", "-1"},
		{"TELEMETRY_SINK", "carbon+tcp://nohost"},
		{"TELEMETRY_SINK", "udp://127.0.0.1:2003"},
		{"TELEMETRY_SINK", "https://graphite.example.net/graphite/metrics"}, // no credentials
		{"TELEMETRY_SINK", "https://graphite.example.net/render", "GRAPHITE_USER", "1", "GRAPHITE_API_KEY", "k"},
		{"TELEMETRY_SINK", "https://123:glc_secret@graphite.example.net/graphite/metrics", "GRAPHITE_USER", "1", "GRAPHITE_API_KEY", "k"},
	}
	for _, kv := range bad {
		_, err := LoadConfig(env(kv...), os.ReadFile)
		if err == nil {
			t.Errorf("%q: accepted", kv)
		} else if strings.Contains(err.Error(), "glc_secret") {
			t.Errorf("%q: error shows the secret: %v", kv, err)
		}
	}
}

// A body that does not arrive within the timeout gets 408, and nothing is
// written. A real server: a ResponseRecorder has no read deadline.
func TestSlowBodyIs408(t *testing.T) {
	tr := newTestReceiver(t, func(c *HandlerConfig) { c.Timeout = 100 * time.Millisecond })
	srv := httptest.NewServer(tr.h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Promise a body, send half of it, and stall.
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(goodBody), goodBody[:len(goodBody)/2])
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("got %d, want 408", resp.StatusCode)
	}
	if len(tr.sink.series) != 0 {
		t.Fatal("a partial body was written")
	}
}

// TELEMETRY_ID_TAG=off made wrong figures; it now stops the start with an
// error that names the alternative, whatever the sink.
func TestIDTagOffRefusedAtStart(t *testing.T) {
	for _, sinkSpec := range []string{"", "prometheus+https://prom.example.net/api/prom/push"} {
		env := map[string]string{"TELEMETRY_ID_TAG": "off", "TELEMETRY_SINK": sinkSpec, "PROMETHEUS_BEARER_TOKEN": "t"}
		_, err := LoadConfig(func(k string) string { return env[k] }, os.ReadFile)
		if !errors.Is(err, errIDTagOff) {
			t.Fatalf("sink %q: %v, want errIDTagOff", sinkSpec, err)
		}
		for _, want := range []string{"TELEMETRY_ID_TAG=\"off\"", "removed", "unset it", "PostgreSQL sink"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
}
