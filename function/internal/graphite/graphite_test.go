package graphite

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
)

func sample() []Series {
	return []Series{
		{Name: "pace.cli.invocations", Tags: []Tag{{"cmd1", "version"}, {"command", "version"}, {"exit_code", "0"}, {"cli_version", "v1.16.0-rc.1+dirty"}}, Value: 17, Time: 1795000000, Interval: 3600},
		{Name: "pace.cli.invocations", Tags: []Tag{{"command", "pace"}, {"exit_code", "1"}}, Value: 4294967295, Time: 1795000000, Interval: 3600},
	}
}

const samplePlaintext = "pace.cli.invocations;cmd1=version;command=version;exit_code=0;cli_version=v1.16.0-rc.1+dirty 17 1795000000\n" +
	"pace.cli.invocations;command=pace;exit_code=1 4294967295 1795000000\n"

func TestPlaintext(t *testing.T) {
	b, err := Plaintext(sample())
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != samplePlaintext {
		t.Fatalf("got\n%s\nwant\n%s", b, samplePlaintext)
	}
}

func TestValidateRejectsWhatBreaksProtocols(t *testing.T) {
	for _, bad := range []string{"", "a;b", "a b", "a=b", "~re", "a\nb", "a\"b", "a,b", "a/b", "é", "a\x00"} {
		s := Series{Name: "m", Tags: []Tag{{"k", bad}}, Interval: 1}
		if err := s.Validate(); !errors.Is(err, ErrInvalidSeries) {
			t.Errorf("tag value %q: %v", bad, err)
		}
		s = Series{Name: "m", Tags: []Tag{{bad, "v"}}, Interval: 1}
		if err := s.Validate(); !errors.Is(err, ErrInvalidSeries) {
			t.Errorf("tag key %q: %v", bad, err)
		}
		s = Series{Name: bad, Interval: 1}
		if err := s.Validate(); !errors.Is(err, ErrInvalidSeries) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	for _, s := range []Series{
		{Name: "m", Tags: []Tag{{"name", "x"}}, Interval: 1}, // carbon's own tag
		{Name: "m"}, // no interval
	} {
		if err := s.Validate(); !errors.Is(err, ErrInvalidSeries) {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

func TestSinksWriteNothingInvalid(t *testing.T) {
	series := append(sample(), Series{Name: "m", Tags: []Tag{{"k", "v;x=y"}}, Interval: 1})
	var b strings.Builder
	if err := (&WriterSink{W: &b}).Write(context.Background(), series); !errors.Is(err, ErrInvalidSeries) || b.Len() != 0 {
		t.Fatalf("WriterSink: %v, wrote %q", err, b.String())
	}
	if _, err := HTTPBody(series); !errors.Is(err, ErrInvalidSeries) {
		t.Fatalf("HTTPBody: %v", err)
	}
}

func TestWriterSink(t *testing.T) {
	var b strings.Builder
	if err := (&WriterSink{W: &b}).Write(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if b.String() != samplePlaintext {
		t.Fatalf("got %q", b.String())
	}
}

// TestHTTPSinkContract checks the request Grafana Cloud's Graphite HTTP API
// takes: POST, Content-Type exactly application/json, basic auth, and the
// exact JSON array.
func TestHTTPSinkContract(t *testing.T) {
	type got struct {
		method, path, contentType, user, key, body string
		ok                                         bool
	}
	reqs := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, k, ok := r.BasicAuth()
		reqs <- got{r.Method, r.URL.Path, r.Header.Get("Content-Type"), u, k, string(b), ok}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"Invalid":0,"Published":2,"ValidationErrors":{}}`)
	}))
	defer srv.Close()
	sink := NewHTTPSink(srv.URL+"/graphite/metrics", "123456", "glc_secret-key")
	if err := sink.Write(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	r := <-reqs
	want := got{
		method: "POST", path: "/graphite/metrics", contentType: "application/json",
		user: "123456", key: "glc_secret-key", ok: true,
		body: `[{"name":"pace.cli.invocations","interval":3600,"value":17,"time":1795000000,"tags":["cmd1=version","command=version","exit_code=0","cli_version=v1.16.0-rc.1+dirty"],"mtype":"count"},` +
			`{"name":"pace.cli.invocations","interval":3600,"value":4294967295,"time":1795000000,"tags":["command=pace","exit_code=1"],"mtype":"count"}]`,
	}
	if r != want {
		t.Fatalf("request\n got %+v\nwant %+v", r, want)
	}
}

func TestHTTPSinkFailures(t *testing.T) {
	const key = "glc_secret-key"
	var otherCalled atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherCalled.Store(true) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "unauthorized":
			http.Error(w, "invalid authentication credentials", http.StatusUnauthorized)
		case "rejected":
			io.WriteString(w, `{"invalid":1,"published":1}`)
		case "redirect":
			http.Redirect(w, r, other.URL+"/graphite/metrics", http.StatusTemporaryRedirect)
		case "down":
			http.Error(w, "down", http.StatusBadGateway)
		case "long":
			// The rejection hides past what the sink reads.
			io.WriteString(w, `{"Invalid":3,"Published":0,"padding":"`+strings.Repeat("x", 70<<10)+`"}`)
		}
	}))
	defer srv.Close()
	for _, c := range []string{"unauthorized", "rejected", "redirect", "down", "long"} {
		sink := NewHTTPSink(srv.URL+"/graphite/metrics?case="+c, "123456", key)
		err := sink.Write(context.Background(), sample())
		if err == nil {
			t.Errorf("%s: no error", c)
			continue
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("%s: error shows the key: %v", c, err)
		}
	}
	if otherCalled.Load() {
		t.Error("the sink followed a redirect with its credentials")
	}
	// Nothing listening.
	addr := closedAddr(t)
	err := NewHTTPSink("http://"+addr+"/graphite/metrics", "1", key).Write(context.Background(), sample())
	if err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("unreachable server: %v", err)
	}
}

// closedAddr returns a loopback address with nothing listening on it.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCarbonSink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(c) // until the sink half-closes
		c.Close()
		got <- string(b)
	}()
	if err := (&CarbonSink{Addr: ln.Addr().String()}).Write(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != samplePlaintext {
		t.Fatalf("carbon got %q", s)
	}
}

func TestCarbonSinkDown(t *testing.T) {
	if err := (&CarbonSink{Addr: closedAddr(t)}).Write(context.Background(), sample()); err == nil {
		t.Fatal("no error with nothing listening")
	}
}

// A server that takes the data but never closes has not confirmed it read
// everything; the sink gives up at the context's deadline.
// neverCloses listens on loopback, accepts one connection, sends chatter,
// and keeps the connection open until the test ends.
func neverCloses(t *testing.T, chatter []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(chatter)
		<-done
	}()
	return ln.Addr().String()
}

// A server that never closes has not confirmed delivery, however much it
// talks.
func TestCarbonSinkServerNeverCloses(t *testing.T) {
	for _, chatter := range [][]byte{nil, make([]byte, 70<<10)} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := (&CarbonSink{Addr: neverCloses(t, chatter)}).Write(ctx, sample())
		cancel()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a server sending %d bytes that never closed: %v, want a deadline error", len(chatter), err)
		}
	}
}

func TestOpen(t *testing.T) {
	s, err := Open("", io.Discard, "", "", time.Hour)
	if err != nil || s.Interval != time.Hour {
		t.Fatalf("default: %v %v", s, err)
	}
	if _, ok := s.W.(*WriterSink); !ok {
		t.Fatalf("default: %T", s.W)
	}
	s, err = Open("carbon+tcp://[::1]:2003", io.Discard, "", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := s.W.(*CarbonSink); !ok || c.Addr != "[::1]:2003" {
		t.Fatalf("carbon: %#v", s.W)
	}
	s, err = Open("http://127.0.0.1:1/graphite/metrics", io.Discard, "u", "k", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := s.W.(*HTTPSink); !ok || h.URL != "http://127.0.0.1:1/graphite/metrics" {
		t.Fatalf("http: %#v", s.W)
	}
	for _, bad := range []string{"stdout:", "carbon+tcp://host", "carbon+tcp://:2003", "carbon+tcp://h:1/x", "tcp://h:1", "https://h/", "https://u:glc_k@h/graphite/metrics", "%zz"} {
		if _, err := Open(bad, io.Discard, "u", "k", time.Hour); err == nil {
			t.Errorf("Open(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), "glc_k") {
			t.Errorf("Open(%q): error shows the secret: %v", bad, err)
		}
	}
}

func TestConvert(t *testing.T) {
	u := &sink.Upload{
		ID: "0d2f7a8e-91c4-4b6a-8f3e-5c1d2e3f4a5b", CLIVersion: "1.25.0", OS: "linux", Received: time.Unix(1795000000, 999e6),
		Counters: []sink.Counter{
			{Path: "pace", ExitCode: 255, Count: 4294967295},
			{Path: "pace a b c d e", Words: []string{"a", "b", "c", "d", "e"}, ExitCode: 0, Count: 0},
			{Path: "pace list tables", Words: []string{"list", "tables"}, ExitCode: 1, Count: 3},
		},
	}
	b, err := Plaintext(Convert(u, 900))
	if err != nil {
		t.Fatal(err)
	}
	const common = ";cli_version=1.25.0;operating_system=linux;id=0d2f7a8e-91c4-4b6a-8f3e-5c1d2e3f4a5b"
	want := "pace.cli.invocations;command=pace;exit_code=other" + common + " 4294967295 1795000000\n" +
		"pace.cli.invocations;cmd1=a;cmd2=b;cmd3=c;cmd4=d;cmd5=e;command=a.b.c.d.e;exit_code=0" + common + " 0 1795000000\n" +
		"pace.cli.invocations;cmd1=list;cmd2=tables;command=list.tables;exit_code=1" + common + " 3 1795000000\n"
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	// Crashes: one series per command and innermost function, the sites
	// that end in it summed.
	u.Crashes = []sink.Crash{
		{Path: "pace list tables", Words: []string{"list", "tables"}, Site: "internal/platform.(*Postgres).Tables:+3 internal/cli.newListTablesCmd.func1:+9", Count: 2},
		{Path: "pace list tables", Words: []string{"list", "tables"}, Site: "internal/platform.(*Postgres).Tables:+5", Count: 1},
	}
	b, err = Plaintext(Convert(u, 900))
	if err != nil {
		t.Fatal(err)
	}
	crash := "pace.cli.crashes;cmd1=list;cmd2=tables;command=list.tables;crash_function=internal.platform.Postgres.Tables" + common + " 3 1795000000\n"
	if string(b) != want+crash {
		t.Fatalf("with crashes, got\n%s\nwant\n%s", b, want+crash)
	}
	u.Crashes = nil
	var tags []string
	for _, tg := range Convert(u, 900)[1].Tags {
		tags = append(tags, tg.Key)
	}
	if !reflect.DeepEqual(tags, TagNames()) {
		t.Fatalf("deepest path writes %v, TagNames says %v", tags, TagNames())
	}
}

func TestSinkConvertsAndSkipsEmpty(t *testing.T) {
	var b strings.Builder
	s := &Sink{W: &WriterSink{W: &b}, Interval: time.Hour}
	if err := s.Write(context.Background(), &sink.Upload{ID: "x", CLIVersion: "1", OS: "linux", Received: time.Unix(5, 0)}); err != nil || b.Len() != 0 {
		t.Fatalf("empty upload: %v, wrote %q", err, b.String())
	}
	u := &sink.Upload{ID: "x", CLIVersion: "1", OS: "linux", Received: time.Unix(5, 0), Counters: []sink.Counter{{Path: "pace version", Words: []string{"version"}, Count: 2}}}
	if err := s.Write(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if want := "pace.cli.invocations;cmd1=version;command=version;exit_code=0;cli_version=1;operating_system=linux;id=x 2 5\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	bad := &sink.Upload{ID: "x;y=z", CLIVersion: "1", OS: "linux", Counters: u.Counters}
	if err := s.Write(context.Background(), bad); !errors.Is(err, sink.ErrInvalid) {
		t.Fatalf("unsafe id: %v, want sink.ErrInvalid", err)
	}
}
