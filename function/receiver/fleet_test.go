package receiver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/internal/promwrite"
)

// The types PACE's original CLI (getstrm/cli, pkg/entity/metrics) uploads,
// field for field: its body is json.Marshal of one of these.
type originalMetric struct {
	CumulativeCount uint32 `json:"cumulative_count" yaml:"cumulative_count"`
}

// v1.19.0 to v1.25.0.
type originalTelemetry struct {
	MetricPoints    map[string]map[uint32]originalMetric `json:"metric_points" yaml:"metric_points"`
	CliVersion      string                               `json:"cli_version" yaml:"cli_version"`
	OperatingSystem string                               `json:"operating_system" yaml:"operating_system"`
	Id              string                               `json:"id" yaml:"id"`
}

// v1.17.0 and v1.18.0 named the OS field operation_version.
type originalTelemetryV117 struct {
	MetricPoints map[string]map[uint32]originalMetric `json:"metric_points" yaml:"metric_points"`
	CliVersion   string                               `json:"cli_version" yaml:"cli_version"`
	OsVersion    string                               `json:"operation_version" yaml:"operation_version"`
	Id           string                               `json:"id" yaml:"id"`
}

// originalPaths are the 30 command paths the original counts.
func originalPaths(t *testing.T) []string {
	paths, err := parseCommands(commandsPaceV1Txt)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 30 {
		t.Fatalf("commands-pace-v1.txt has %d paths, want the original's 30", len(paths))
	}
	return paths
}

// postOriginal sends v exactly as the original does: json.Marshal, POST,
// only Content-Type set.
func postOriginal(t *testing.T, h http.Handler, v any) *httptest.ResponseRecorder {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/telemetry", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || w.Body.String() != "OK" {
		t.Fatalf("%s: got %d %q, want 200 OK", b, w.Code, w.Body)
	}
	return w
}

func tagOf(s graphite.Series, key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// The fleet's uploads with the embedded allow-list: every release from
// v1.17 to v1.25, a plain build, both OS field names, an empty OS, Tab
// completion counted, all 30 of its command paths.
func TestOriginalFleetUploads(t *testing.T) {
	paths := originalPaths(t)
	points := map[string]map[uint32]originalMetric{"pace __complete": {0: {41}, 1: {2}}}
	for i, p := range paths {
		points[p] = map[uint32]originalMetric{0: {uint32(i + 1)}, 1: {1}}
	}
	cases := []struct {
		name       string
		body       any
		version    string
		os         string
		wantSeries int
	}{
		{"new install", originalTelemetry{MetricPoints: map[string]map[uint32]originalMetric{}, CliVersion: "1.25.0", OperatingSystem: "linux", Id: testID}, "v1.25.0", "linux", 0},
		{"v1.25.0", originalTelemetry{points, "1.25.0", "darwin", testID}, "v1.25.0", "darwin", 60},
		{"v1.19.0", originalTelemetry{points, "1.19.0", "windows", testID}, "v1.19.0", "windows", 60},
		{"plain build", originalTelemetry{points, "dev", "linux", testID}, "v0.0.0-dev", "linux", 60},
		{"file upgraded from v1.17", originalTelemetry{points, "1.20.1", "", testID}, "v1.20.1", "unknown", 60},
		{"v1.17.0 itself", originalTelemetryV117{points, "1.17.0", "linux", testID}, "v1.17.0", "linux", 60},
		{"v1.18.0 with a v", originalTelemetryV117{points, "v1.18.0", "darwin", testID}, "v1.18.0", "darwin", 60},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordingSink{}
			h, err := NewHandler(HandlerConfig{Store: sink, Logger: NewLogger(io.Discard)})
			if err != nil {
				t.Fatal(err)
			}
			w := postOriginal(t, h, tc.body)
			wantDropped := "2" // pace __complete, exit codes 0 and 1
			if tc.wantSeries == 0 {
				wantDropped = "0"
			}
			if got := w.Header().Get(DroppedHeader); got != wantDropped {
				t.Errorf("%s = %s, want %s", DroppedHeader, got, wantDropped)
			}
			if len(sink.series) != tc.wantSeries {
				t.Fatalf("got %d series, want %d", len(sink.series), tc.wantSeries)
			}
			seen := map[string]bool{}
			for _, s := range sink.series {
				if v := tagOf(s, graphite.TagVersion); v != tc.version {
					t.Errorf("cli_version %q, want %q", v, tc.version)
				}
				if os := tagOf(s, graphite.TagOS); os != tc.os {
					t.Errorf("operating_system %q, want %q", os, tc.os)
				}
				cmd := tagOf(s, graphite.TagCommand)
				seen[cmd] = true
				if strings.Contains(cmd, "complete") {
					t.Errorf("stored %v", s)
				}
			}
			if tc.wantSeries == 0 {
				return
			}
			for i, p := range paths {
				cmd := strings.ReplaceAll(strings.TrimPrefix(p, "pace "), " ", ".")
				if !seen[cmd] {
					t.Errorf("%q not stored", p)
				}
				// The value is the original's count for exit code 0.
				for _, s := range sink.series {
					if tagOf(s, graphite.TagCommand) == cmd && tagOf(s, graphite.TagExitCode) == "0" && s.Value != uint64(i+1) {
						t.Errorf("%q exit 0: %d, want %d", p, s.Value, i+1)
					}
				}
			}
		})
	}
}

// The 14 paths that only the original has are in the reviewed
// list, so they are kept.
func TestOriginalOnlyPathsKept(t *testing.T) {
	paths := originalPaths(t)
	for _, p := range []string{
		"pace list catalogs", "pace list databases", "pace list global-transforms", "pace list groups",
		"pace list lineage", "pace list plugins", "pace list resources", "pace get global-transform",
		"pace get lineage", "pace upsert global-transform", "pace delete global-transform",
		"pace invoke plugin", "pace disable welcome", "pace generate-docs",
	} {
		if !slices.Contains(paths, p) || !slices.Contains(Commands(), p) {
			t.Errorf("%q is not on the allow-list", p)
		}
	}
	// And the union keeps this CLI's own.
	own, err := parseCommands(commandsTxt)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range own {
		if !slices.Contains(Commands(), p) {
			t.Errorf("this CLI's %q is not on the allow-list", p)
		}
	}
	if !slices.IsSorted(Commands()) || len(slices.Compact(Commands())) != len(Commands()) {
		t.Error("Commands() must be sorted, each once")
	}
}

// 1.25.0 and v1.25.0 are one version in every store: the Graphite tags and
// the remote-write labels carry the same spelling.
func TestVersionOneSpellingInEveryStore(t *testing.T) {
	for _, v := range []string{"1.25.0", "v1.25.0", "1.25.0+dirty"} {
		body := originalTelemetry{map[string]map[uint32]originalMetric{"pace version": {0: {3}}}, v, "linux", testID}
		tr := newTestReceiver(t)
		postOriginal(t, tr.h, body)
		if len(tr.sink.series) != 1 || tagOf(tr.sink.series[0], graphite.TagVersion) != "v1.25.0" {
			t.Errorf("%s: Graphite got %+v", v, tr.sink.series)
		}
		ps := &recordingPromSink{}
		postOriginal(t, newPromReceiver(t, ps).h, body)
		if len(ps.series) != 1 || !slices.Contains(ps.series[0].Labels, labels(promwrite.LabelVersion, "v1.25.0")[0]) {
			t.Errorf("%s: remote write got %+v", v, ps.series)
		}
	}
}

// Paths that are not valid command words are dropped and counted like
// unknown paths; the rest of the upload is stored.
func TestInvalidPathsDroppedNotRefused(t *testing.T) {
	for _, p := range []string{
		"pace __complete", "pace __completeNoDesc", "kubectl get", "pace List", "pace get /etc/passwd",
		"pace version;id=x", "pace a b c d e f", "pace version ", "", "pace \u00e9t\u00e9", "pace version\n",
	} {
		b, _ := json.Marshal(map[string]map[string]map[string]int{p: {"0": {"cumulative_count": 4}, "1": {"cumulative_count": 1}}, "pace version": {"0": {"cumulative_count": 1}}})
		tr := newTestReceiver(t)
		w := tr.post(body(string(b)))
		if w.Code != 200 || w.Body.String() != "OK" || w.Header().Get(DroppedHeader) != "2" {
			t.Errorf("%q: got %d %q dropped=%s, want 200 OK dropped=2", p, w.Code, w.Body, w.Header().Get(DroppedHeader))
			continue
		}
		if len(tr.sink.series) != 1 || tagOf(tr.sink.series[0], graphite.TagCommand) != "version" {
			t.Errorf("%q: series %+v", p, tr.sink.series)
		}
		if strings.Contains(tr.log.String(), "etc") || strings.Contains(tr.log.String(), "kubectl") {
			t.Errorf("%q reached the log: %s", p, tr.log)
		}
	}
}

// What stays malformed is still a 400 that says what is wrong.
func TestFleetMalformedStillRefused(t *testing.T) {
	for _, tc := range []struct{ body, wantErr string }{
		{body(`null`), "metric_points: must be a JSON object"},
		{strings.Replace(goodBody, `"v1.16.0"`, `"1.16"`, 1), "cli_version:"},
		{strings.Replace(goodBody, `"v1.16.0"`, `""`, 1), "cli_version:"},
		{strings.Replace(goodBody, `"v1.16.0"`, `"latest"`, 1), "cli_version:"},
		{strings.Replace(goodBody, `"v1.16.0"`, `"vdev"`, 1), "cli_version:"},
		{strings.Replace(goodBody, `"operating_system":"linux"`, `"operating_system":"linux","operation_version":"linux"`, 1), "operating_system: duplicate field"},
		{strings.Replace(goodBody, `"operating_system":"linux"`, `"operation_version":"Linux"`, 1), "operating_system:"},
	} {
		tr := newTestReceiver(t)
		w := tr.post(tc.body)
		var e struct{ Error string }
		if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.HasPrefix(e.Error, tc.wantErr) || tr.sink.calls != 0 {
			t.Errorf("%s: got %d %s, want 400 %q", tc.body, w.Code, w.Body, tc.wantErr)
		}
	}
}
