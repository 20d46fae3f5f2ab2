package upload

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/testenv"
)

func TestRetryAfterIsCapped(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"120":                           2 * time.Minute,
		"86400":                         MaxRetryAfter,
		"86401":                         MaxRetryAfter,
		"20211507185753197":             MaxRetryAfter, // overflows a Duration once in ns
		"18446744074":                   MaxRetryAfter,
		"99999999999999999999999999999": MaxRetryAfter, // beyond uint64
		"-5":                            0,
		"soon":                          0,
		"Wed, 25 Nov 2026 12:10:00 GMT": 10 * time.Minute,
		"Fri, 25 Nov 2095 12:00:00 GMT": MaxRetryAfter,
		"Wed, 25 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", in, got, want)
		}
	}
}

// A hostile receiver's huge Retry-After makes one retry a day later, not a
// tight loop.
func TestHugeRetryAfterWaitsTheCap(t *testing.T) {
	cfg, r, _ := setup(t, status(503, "Retry-After", "20211507185753197"))
	var st State
	res := Once(context.Background(), cfg, &st)
	if res.Outcome != Retry || res.RetryAfter != MaxRetryAfter || len(got(r)) != 1 {
		t.Fatalf("%+v after %d requests", res, len(got(r)))
	}
}

// Redirects are not followed: the host they point to gets nothing, and the
// upload fails naming the redirect.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		io.WriteString(w, "OK")
	}))
	defer other.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			cfg, r, _ := setup(t, status(code, "Location", other.URL+"/x?token=s3cret"))
			var st State
			res := Once(context.Background(), cfg, &st)
			if res.Outcome == Delivered || res.Err == nil || res.Status != code {
				t.Fatalf("a %d counted as %+v", code, res)
			}
			msg := res.Err.Error()
			if !strings.Contains(msg, "redirect to "+other.URL+"/x?…") || !strings.Contains(msg, "not followed") || strings.Contains(msg, "s3cret") {
				t.Fatalf("error does not name the redirect (or leaks): %s", msg)
			}
			if elsewhere.Load() != 0 || len(got(r)) != 1 {
				t.Fatalf("the redirect was followed: %d requests elsewhere", elsewhere.Load())
			}
			if !st.LastSuccess.IsZero() || st.DeliveredDigest != "" {
				t.Fatalf("recorded as delivered: %+v", st)
			}
			log, _ := os.ReadFile(filepath.Join(cfg.Dir, SentLogName))
			if strings.Contains(string(log), "delivered") || !strings.Contains(string(log), fmt.Sprintf("HTTP %d", code)) {
				t.Fatalf("sent log:\n%s", log)
			}
		})
	}
}

const hostile = "\x1b]0;pwned\x07\x1b[2J\r\n2026-01-01T00:00:00Z POST https://evil/\n{\"forged\":1}\n-> HTTP 200: delivered\n\n\u202e\xff"

func clean(t *testing.T, where, s string) {
	t.Helper()
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == unicode.ReplacementChar {
			t.Fatalf("%s holds %U: %q", where, r, s)
		}
	}
}

// What a receiver says reaches status, logs and the sent log escaped and
// bounded: no terminal escapes, no forged lines.
func TestReceiverAnswersAreSanitizedAndBounded(t *testing.T) {
	big := strings.Repeat("A", 4000) + hostile
	for name, answer := range map[string]testenv.Answer{
		"body": func(w http.ResponseWriter) { w.WriteHeader(400); io.WriteString(w, hostile) },
		"long": func(w http.ResponseWriter) { w.WriteHeader(500); io.WriteString(w, big) },
	} {
		t.Run(name, func(t *testing.T) {
			cfg, _, _ := setup(t, answer)
			var st State
			res := Once(context.Background(), cfg, &st)
			if res.Err == nil {
				t.Fatalf("%+v", res)
			}
			clean(t, "the error", res.Err.Error())
			clean(t, "the state", st.LastError)
			if len(res.Err.Error()) > MaxAnswer+200 {
				t.Fatalf("error of %d bytes", len(res.Err.Error()))
			}
			if name == "body" && !strings.Contains(res.Err.Error(), `\x1b]0;pwned\a`) {
				t.Fatalf("escape not shown escaped: %s", res.Err)
			}
			log, _ := os.ReadFile(filepath.Join(cfg.Dir, SentLogName))
			entries := strings.Split(strings.TrimSuffix(string(log), "\n\n"), "\n\n")
			if len(entries) != 1 || strings.Count(entries[0], "\n") != 2 || strings.Contains(string(log), "evil") && strings.Contains(string(log), "\nPOST") {
				t.Fatalf("sent log has %d entries:\n%s", len(entries), log)
			}
			clean(t, "the sent log's answer line", strings.Split(entries[0], "\n")[2])
		})
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":            "plain text",
		"a\nb":                  `a\nb`,
		"\x1b[31mred":           `\x1b[31mred`,
		"bad \xff byte":         `bad \xff byte`,
		"rtl \u202e x":          `rtl \u202e x`,
		"  café  ":              "café",
		strings.Repeat("x", 20): strings.Repeat("x", 10) + "…",
	} {
		if got := Sanitize(in, 10+len(in)*boolInt(len(in) < 20)); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:s3cret@t.example/ingest":  "https://user:xxxxx@t.example/ingest",
		"https://s3cret@t.example/ingest":       "https://xxxxx@t.example/ingest",
		"https://s3cret:@t.example/ingest":      "https://s3cret:xxxxx@t.example/ingest",
		"https://t.example/ingest?token=s3cret": "https://t.example/ingest?…",
		"https://t.example/ingest#s3cret":       "https://t.example/ingest#…",
		"https://t.example/ingest?a=s3cret#s3c": "https://t.example/ingest?…#…",
		"https://t.example/a%25b":               "https://t.example/a%25b",
		"https://t.example/":                    "https://t.example/",
		"://bad s3cret":                         "(an endpoint that is not a URL)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// A hand-edited file of more counters than the receiver takes in one
// request goes in parts within the limit, and every count arrives.
func TestManyCountersGoInParts(t *testing.T) {
	got := map[string]uint64{}
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := payload.Decode(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		requests++
		for path, codes := range p.MetricPoints {
			for code, pt := range codes {
				got[fmt.Sprintf("%s %d", path, code)] = pt.CumulativeCount
			}
		}
		io.WriteString(w, "OK")
	}))
	defer srv.Close()
	dir := t.TempDir()
	var b bytes.Buffer
	b.WriteString("metric_points:\n")
	want := map[string]uint64{}
	for i := 0; i < 1250; i++ {
		path := fmt.Sprintf("pace list c%04d", i)
		fmt.Fprintf(&b, "    %s:\n        0:\n            cumulative_count: %d\n        1:\n            cumulative_count: 1\n", path, i+1)
		want[path+" 0"], want[path+" 1"] = uint64(i+1), 1
	}
	b.WriteString("cli_version: 1.25.0\noperating_system: linux\nid: 5f1b8a52-3f6e-4c1e-9f3a-2f4b1c8d9e7a\n")
	if err := os.WriteFile(filepath.Join(dir, telemetry.FileName), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var st State
	res := Once(context.Background(), Config{Dir: dir, Endpoint: srv.URL, Client: srv.Client()}, &st)
	if res.Outcome != Delivered || res.Parts != 3 || requests != 3 {
		t.Fatalf("%+v in %d requests", res, requests)
	}
	if len(got) != len(want) {
		t.Fatalf("receiver has %d counters, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %d, want %d", k, got[k], v)
		}
	}
	// Nothing new: nothing sent.
	if res := Once(context.Background(), Config{Dir: dir, Endpoint: srv.URL, Client: srv.Client()}, &st); res.Outcome != Nothing || requests != 3 {
		t.Fatalf("again: %+v", res)
	}
}

// FuzzReceiverAnswer gives the upload any answer a receiver could send,
// as raw HTTP (status line, headers, body), parsed by net/http as on the
// wire. Whatever it is: no panic, a 2xx and only a 2xx is delivered, the
// wait it asks for is within the cap, and what is kept of it is escaped
// and bounded, in the error, the state and the sent log.
func FuzzReceiverAnswer(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK",
		"HTTP/1.1 400 Bad Request\r\n\r\n{\"error\":\"id: not a UUID\"}",
		"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 20211507185753197\r\n\r\nbusy",
		"HTTP/1.1 429 Too Many Requests\r\nRetry-After: Fri, 25 Nov 2095 12:00:00 GMT\r\n\r\n",
		"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://evil.example/?k=v\r\n\r\n",
		"HTTP/1.1 302 Found\r\nLocation: \x1b[2J\r\n\r\n",
		"HTTP/1.1 500 \x1b]0;x\x07\r\n\r\n" + hostile,
		"HTTP/1.0 999 Odd\r\n\r\n",
		"garbage",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	(&telemetry.Store{Dir: dir, Version: "v1.16.0"}).Record("pace version", 0)
	f.Fuzz(func(t *testing.T, raw []byte) {
		os.Remove(filepath.Join(dir, SentLogName))
		client := &http.Client{Transport: rawAnswer(raw)}
		var st State
		res := Once(context.Background(), Config{Dir: dir, Endpoint: "http://receiver.test/", Client: client}, &st)
		if (res.Outcome == Delivered) != (res.Status >= 200 && res.Status < 300) {
			t.Fatalf("status %d gave %v", res.Status, res.Outcome)
		}
		if res.RetryAfter < 0 || res.RetryAfter > MaxRetryAfter {
			t.Fatalf("Retry-After %v", res.RetryAfter)
		}
		if res.Err != nil {
			clean(t, "the error", res.Err.Error())
			if len(res.Err.Error()) > MaxAnswer+400 {
				t.Fatalf("error of %d bytes", len(res.Err.Error()))
			}
		}
		clean(t, "the state", st.LastError)
		log, err := os.ReadFile(filepath.Join(dir, SentLogName))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(log), "\n"); n != 4 {
			t.Fatalf("sent log entry of %d lines:\n%s", n, log)
		}
		clean(t, "the sent log's answer", strings.Split(string(log), "\n")[2])
	})
}

// rawAnswer answers every request with raw, read as an HTTP response.
type rawAnswer []byte

func (r rawAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, req.Body)
	req.Body.Close()
	return http.ReadResponse(bufio.NewReader(bytes.NewReader(r)), req)
}

// A hand-edited state file reaches `status` escaped too.
func TestLoadStateSanitizes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, StateFileName), []byte(`{"last_error":"x\u001b[2Jy\nforged"}`), 0o600)
	st, err := LoadState(dir)
	if err != nil || st.LastError != `x\x1b[2Jy\nforged` {
		t.Fatalf("%q, %v", st.LastError, err)
	}
}
