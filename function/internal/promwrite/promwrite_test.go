package promwrite

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pace-cli/pace/function/internal/sink"
)

func sample() []Series {
	return []Series{
		{Labels: []Label{{"__name__", "pace_cli_invocations_total"}, {"cli_version", "v1.16.0-rc.1+dirty"}, {"cmd1", "list"}, {"cmd2", "tables"}, {"command", "list tables"}, {"exit_code", "0"}}, Value: 17, Timestamp: 1795000000123},
		{Labels: []Label{{"__name__", "pace_cli_invocations_total"}, {"command", "pace"}, {"exit_code", "1"}}, Value: 4294967295, Timestamp: 1795000000123},
		{Labels: []Label{{"__name__", "m"}, {"k", "v"}}, Value: 0, Timestamp: 0},
	}
}

// decodeWriteRequest is an independent, strict reader of remote write 1.0's
// WriteRequest: it fails on any field number or wire type the schema does
// not have.
func decodeWriteRequest(t *testing.T, b []byte) []Series {
	t.Helper()
	var out []Series
	fields(t, "WriteRequest", b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if num != 1 || typ != protowire.BytesType {
			t.Fatalf("WriteRequest: field %d type %d", num, typ)
		}
		var s Series
		samples := 0
		fields(t, "TimeSeries", v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
			if typ != protowire.BytesType {
				t.Fatalf("TimeSeries: field %d type %d", num, typ)
			}
			switch num {
			case 1:
				var l Label
				fields(t, "Label", v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
					switch {
					case num == 1 && typ == protowire.BytesType:
						l.Name = string(v)
					case num == 2 && typ == protowire.BytesType:
						l.Value = string(v)
					default:
						t.Fatalf("Label: field %d type %d", num, typ)
					}
				})
				s.Labels = append(s.Labels, l)
			case 2:
				samples++
				fields(t, "Sample", v, func(num protowire.Number, typ protowire.Type, _ []byte, n uint64) {
					switch {
					case num == 1 && typ == protowire.Fixed64Type:
						s.Value = math.Float64frombits(n)
					case num == 2 && typ == protowire.VarintType:
						s.Timestamp = int64(n)
					default:
						t.Fatalf("Sample: field %d type %d", num, typ)
					}
				})
			default:
				t.Fatalf("TimeSeries: field %d", num)
			}
		})
		if samples != 1 {
			t.Fatalf("TimeSeries with %d samples, want 1", samples)
		}
		out = append(out, s)
	})
	return out
}

func fields(t *testing.T, msg string, b []byte, f func(protowire.Number, protowire.Type, []byte, uint64)) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("%s: bad tag: %v", msg, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		default:
			t.Fatalf("%s: field %d has wire type %d", msg, num, typ)
		}
		if n < 0 {
			t.Fatalf("%s: field %d: %v", msg, num, protowire.ParseError(n))
		}
		b = b[n:]
		f(num, typ, v, x)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	b, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeWriteRequest(t, b); !reflect.DeepEqual(got, sample()) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, sample())
	}
}

// TestMarshalBytes pins the encoding of one small series byte by byte.
func TestMarshalBytes(t *testing.T) {
	b, err := Marshal([]Series{{Labels: []Label{{"__name__", "m"}}, Value: 1, Timestamp: 2}})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x0a, 0x1c, // timeseries, 28 bytes
		0x0a, 0x0d, // labels, 13 bytes
		0x0a, 0x08, '_', '_', 'n', 'a', 'm', 'e', '_', '_', // name
		0x12, 0x01, 'm', // value
		0x12, 0x0b, // samples, 11 bytes
		0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // value 1.0 as a little-endian double
		0x10, 0x02, // timestamp 2
	}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("got  % x\nwant % x", b, want)
	}
}

func TestValidate(t *testing.T) {
	name := Label{"__name__", "m"}
	for _, s := range []Series{
		{Labels: []Label{{"k", "v"}}},                            // no name
		{Labels: []Label{name, {"b", "v"}, {"a", "v"}}},          // unsorted
		{Labels: []Label{name, {"a", "v"}, {"a", "w"}}},          // duplicate
		{Labels: []Label{name, {"a", ""}}},                       // empty value
		{Labels: []Label{name, {"a", "\xff"}}},                   // not UTF-8
		{Labels: []Label{name, {"1a", "v"}}},                     // bad name
		{Labels: []Label{name, {"a-b", "v"}}},                    // bad name
		{Labels: []Label{{"__name__", "a.b"}}},                   // bad metric name
		{Labels: []Label{{"__meta", "x"}, name}},                 // reserved
		{Labels: []Label{name}, Value: math.NaN()},               // not a number
		{Labels: []Label{{"__name__", "m"}}, Value: math.Inf(1)}, // infinite
	} {
		if err := s.Validate(); !errors.Is(err, ErrInvalidSeries) {
			t.Errorf("%+v: %v", s, err)
		}
		if _, err := Marshal([]Series{s}); !errors.Is(err, ErrInvalidSeries) {
			t.Errorf("Marshal(%+v): %v", s, err)
		}
	}
	for _, s := range sample() {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

type request struct {
	method, path string
	header       http.Header
	series       []Series
}

// recorder is a remote-write endpoint that decodes what it gets.
func recorder(t *testing.T, status int, reply string) (*httptest.Server, chan request) {
	reqs := make(chan request, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		pb, err := snappy.Decode(nil, b)
		if err != nil {
			t.Errorf("body is not snappy block format: %v", err)
		}
		reqs <- request{r.Method, r.URL.Path, r.Header.Clone(), decodeWriteRequest(t, pb)}
		w.WriteHeader(status)
		io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

// TestSinkContract checks the request of remote write 1.0: POST, a
// snappy-compressed protobuf WriteRequest, its headers, and the auth.
func TestSinkContract(t *testing.T) {
	srv, reqs := recorder(t, http.StatusNoContent, "")
	for _, c := range []struct {
		auth Auth
		want string
	}{
		{Auth{User: "123456", Password: "glc_secret"}, "Basic " + base64.StdEncoding.EncodeToString([]byte("123456:glc_secret"))},
		{Auth{BearerToken: "tok_secret"}, "Bearer tok_secret"},
		{Auth{}, ""},
	} {
		s, err := Open("prometheus+"+srv.URL+"/api/v1/write", c.auth)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.send(context.Background(), sample()); err != nil {
			t.Fatal(err)
		}
		r := <-reqs
		if r.method != "POST" || r.path != "/api/v1/write" {
			t.Errorf("%s %s", r.method, r.path)
		}
		for k, v := range map[string]string{
			"Content-Encoding":                  "snappy",
			"Content-Type":                      "application/x-protobuf",
			"X-Prometheus-Remote-Write-Version": "0.1.0",
			"User-Agent":                        UserAgent,
			"Authorization":                     c.want,
		} {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
		if !reflect.DeepEqual(r.series, sample()) {
			t.Errorf("store got\n%+v\nwant\n%+v", r.series, sample())
		}
	}
	// Nothing to write: no request.
	s, _ := Open("prometheus+"+srv.URL+"/api/v1/write", Auth{})
	if err := s.send(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reqs:
		t.Fatalf("empty write sent %+v", r)
	default:
	}
}

func TestSinkFailures(t *testing.T) {
	const secret = "tok_secret"
	var otherCalled atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherCalled.Store(true) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch c := r.URL.Query().Get("case"); c {
		case "redirect":
			http.Redirect(w, r, other.URL+"/api/v1/write", http.StatusTemporaryRedirect)
		default:
			var status int
			fmt.Sscan(c, &status)
			// A verbose proxy echoing the credentials.
			http.Error(w, "out of order sample; you sent "+r.Header.Get("Authorization"), status)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		name     string
		rejected bool
	}{
		{"400", true}, {"409", true}, {"413", true}, {"422", true},
		{"401", false}, {"403", false}, {"404", false}, {"429", false},
		{"500", false}, {"502", false}, {"503", false}, {"redirect", false},
	} {
		s, err := Open("prometheus+"+srv.URL+"/api/v1/write?case="+c.name, Auth{BearerToken: secret})
		if err != nil {
			t.Fatal(err)
		}
		err = s.send(context.Background(), sample())
		var rej *RejectedError
		switch {
		case err == nil:
			t.Errorf("%s: no error", c.name)
		case errors.As(err, &rej) != c.rejected:
			t.Errorf("%s: %v; rejected %v, want %v", c.name, err, rej != nil, c.rejected)
		case strings.Contains(err.Error(), secret):
			t.Errorf("%s: error shows the token: %v", c.name, err)
		case c.rejected && !strings.Contains(rej.Reason, "out of order sample"):
			t.Errorf("%s: reason %q lacks the store's", c.name, rej.Reason)
		}
	}
	if otherCalled.Load() {
		t.Error("the sink followed a redirect with its credentials")
	}
	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, _ := Open("prometheus+http://"+addr+"/api/v1/write", Auth{User: "u", Password: secret})
	err = s.send(context.Background(), sample())
	var rej *RejectedError
	if err == nil || errors.As(err, &rej) || strings.Contains(err.Error(), secret) {
		t.Fatalf("unreachable store: %v", err)
	}
}

func TestOpen(t *testing.T) {
	s, err := Open("prometheus+https://prometheus-prod-01-eu-west-0.grafana.net/api/prom/push", Auth{User: "123", Password: "glc_k"})
	if err != nil || s.URL != "https://prometheus-prod-01-eu-west-0.grafana.net/api/prom/push" || s.Auth.User != "123" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, c := range []struct {
		spec string
		auth Auth
	}{
		{"https://h/api/v1/write", Auth{}},
		{"prometheus+ftp://h/api/v1/write", Auth{}},
		{"prometheus+https:///api/v1/write", Auth{}},
		{"prometheus+https://u:glc_k@h/api/v1/write", Auth{}},
		{"prometheus+%zz", Auth{}},
		{"prometheus+https://h/api/v1/write", Auth{User: "u"}},
		{"prometheus+https://h/api/v1/write", Auth{Password: "glc_k"}},
		{"prometheus+https://h/api/v1/write", Auth{User: "u", Password: "glc_k", BearerToken: "glc_k"}},
	} {
		if _, err := Open(c.spec, c.auth); err == nil {
			t.Errorf("Open(%q, %+v) accepted it", c.spec, c.auth)
		} else if strings.Contains(err.Error(), "glc_k") {
			t.Errorf("Open(%q): error shows the secret: %v", c.spec, err)
		}
	}
}

func TestConvert(t *testing.T) {
	u := &sink.Upload{
		ID: "0d2f7a8e-91c4-4b6a-8f3e-5c1d2e3f4a5b", CLIVersion: "1.25.0", OS: "linux", Received: time.UnixMilli(1795000000123),
		Counters: []sink.Counter{
			{Path: "pace", ExitCode: 3, Count: 4294967295},
			{Path: "pace a b c d e", Words: []string{"a", "b", "c", "d", "e"}, ExitCode: 255, Count: 0},
		},
	}
	got := Convert(u)
	id := Label{"id", u.ID}
	want := []Series{
		{Labels: []Label{{"__name__", MetricName}, {"cli_version", "1.25.0"}, {"command", "pace"}, {"exit_code", "3"}, id, {"operating_system", "linux"}}, Value: 4294967295, Timestamp: 1795000000123},
		{Labels: []Label{{"__name__", MetricName}, {"cli_version", "1.25.0"}, {"cmd1", "a"}, {"cmd2", "b"}, {"cmd3", "c"}, {"cmd4", "d"}, {"cmd5", "e"}, {"command", "a b c d e"}, {"exit_code", "other"}, id, {"operating_system", "linux"}}, Value: 0, Timestamp: 1795000000123},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	var names []string
	for _, l := range got[1].Labels {
		names = append(names, l.Name)
		if err := got[1].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(names, LabelNames()) {
		t.Fatalf("deepest path writes %v, LabelNames says %v", names, LabelNames())
	}
	// Crashes: one sample per command and innermost function, the sites
	// that end in it summed, labels in sorted order.
	u.Crashes = []sink.Crash{
		{Path: "pace", Site: "internal/cli.crashTest:+4 internal/cli.newRoot.func1:+2", Count: 2},
		{Path: "pace", Site: "internal/cli.crashTest:+4", Count: 5},
		{Path: "pace", Site: "internal/platform.(*Postgres).Tables:+3", Count: 1},
	}
	crashes := Convert(u)[2:]
	wantCrashes := []Series{
		{Labels: []Label{{"__name__", CrashMetric}, {"cli_version", "1.25.0"}, {"command", "pace"}, {"crash_function", "internal/cli.crashTest"}, id, {"operating_system", "linux"}}, Value: 7, Timestamp: 1795000000123},
		{Labels: []Label{{"__name__", CrashMetric}, {"cli_version", "1.25.0"}, {"command", "pace"}, {"crash_function", "internal/platform.(*Postgres).Tables"}, id, {"operating_system", "linux"}}, Value: 1, Timestamp: 1795000000123},
	}
	if !reflect.DeepEqual(crashes, wantCrashes) {
		t.Fatalf("crashes: got\n%+v\nwant\n%+v", crashes, wantCrashes)
	}
	for _, s := range crashes {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}
}

// A store's refusal reaches the receiver as sink.IsRefused; a store down
// does not.
func TestWriteClassifiesErrors(t *testing.T) {
	status := http.StatusBadRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "out of order sample", status)
	}))
	defer srv.Close()
	s := New(srv.URL, Auth{})
	u := &sink.Upload{ID: "x", CLIVersion: "1", OS: "linux", Received: time.UnixMilli(1), Counters: []sink.Counter{{Path: "pace", Count: 1}}}
	err := s.Write(context.Background(), u)
	var rej *RejectedError
	if !sink.IsRefused(err) || !errors.As(err, &rej) {
		t.Fatalf("400: %v, want a refusal", err)
	}
	status = http.StatusServiceUnavailable
	if err := s.Write(context.Background(), u); err == nil || sink.IsRefused(err) {
		t.Fatalf("503: %v, want a retryable error", err)
	}
	bad := &sink.Upload{ID: "x", CLIVersion: "", OS: "linux", Counters: u.Counters}
	if err := s.Write(context.Background(), bad); !errors.Is(err, sink.ErrInvalid) {
		t.Fatalf("empty version: %v, want sink.ErrInvalid", err)
	}
}
