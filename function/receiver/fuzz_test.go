package receiver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/pace-cli/pace/function/internal/promwrite"
	"github.com/pace-cli/pace/function/payload"
)

// FuzzHandler feeds arbitrary bodies through decode, validation and
// transform. Seeds are in testdata/fuzz/FuzzHandler. It checks that the
// receiver never fails with a 5xx, never calls the sink for a rejected
// body, accepts only what encoding/json reads the same way (with the old
// name of operating_system), counts every counter it stores or drops, and never lets
// an unsafe series through (the sink's own check would panic, a 500), in
// the Graphite or the remote-write transform.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(goodBody))
	f.Add([]byte(body(`{"pace":{"255":{"cumulative_count":4294967295}},"pace nope":{"0":{"cumulative_count":1}}}`)))
	// As PACE's original fleet sends: no v, dev, its old OS field, Tab completion.
	f.Add([]byte(`{"metric_points":{"pace __complete":{"0":{"cumulative_count":3}},"pace version":{"1":{"cumulative_count":1}}},"cli_version":"1.25.0","operating_system":"","id":"` + testID + `"}`))
	f.Add([]byte(`{"metric_points":{},"cli_version":"dev","operation_version":"linux","id":"` + testID + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := newTestReceiver(t)
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		w := tr.do(req)
		switch w.Code {
		case 200:
			if w.Body.String() != "OK" {
				t.Fatalf("200 with body %q", w.Body)
			}
			if !json.Valid(b) {
				t.Fatalf("accepted invalid JSON %q", b)
			}
			p, err := payload.Decode(b)
			if err != nil {
				t.Fatalf("200 but Decode fails: %v", err)
			}
			var std struct {
				payload.Payload
				OldOS string `json:"operation_version"` // PACE v1.17's name
			}
			err = json.Unmarshal(b, &std)
			if std.OldOS != "" {
				std.OperatingSystem = std.OldOS
			}
			if err != nil || !reflect.DeepEqual(std.Payload, *p) {
				t.Fatalf("encoding/json reads %q differently: %+v, %v; we read %+v", b, std, err, *p)
			}
			// What the receiver stores: exit codes folded, version and
			// OS normalized.
			if err := p.Normalize(); err != nil {
				t.Fatalf("200 but Normalize fails: %v", err)
			}
			for _, s := range tr.sink.series {
				if err := s.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(tr.sink.series); got+atoi(t, w.Header().Get(DroppedHeader)) != p.Counters() {
				t.Fatalf("%d series + %s dropped != %d counters", got, w.Header().Get(DroppedHeader), p.Counters())
			}
			// The remote-write transform of the same payload is as valid.
			ps := []promwrite.Series{}
			for _, u := range tr.sink.uploads {
				ps = append(ps, promwrite.Convert(u)...)
			}
			if len(ps) != len(tr.sink.series) {
				t.Fatalf("remote write: %d series; Graphite: %d", len(ps), len(tr.sink.series))
			}
			if _, err := promwrite.Marshal(ps); err != nil {
				t.Fatal(err)
			}
		case 400, 413:
			if tr.sink.calls != 0 {
				t.Fatalf("sink called for a rejected body")
			}
			var e map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e) != 1 || e["error"] == "" {
				t.Fatalf("error body %q", w.Body)
			}
			// A bad id is never echoed: only quoting echoes a value.
			if strings.HasPrefix(e["error"], "id:") && strings.Contains(e["error"], `"`) {
				t.Fatalf("id error %q may echo the id", e["error"])
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, b, w.Body)
		}
	})
}

func atoi(t *testing.T, s string) int {
	var n int
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
