package receiver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
)

func TestSourceAddress(t *testing.T) {
	for _, tc := range []struct {
		src  Source
		xff  []string
		peer string
		want string
	}{
		// Behind the load balancer: "<client>,<balancer>"; what the client
		// put before is its own and ignored.
		{SourceXFFSecondToLast, []string{"203.0.113.9, 130.211.0.1"}, "169.254.1.1:1", "203.0.113.9"},
		{SourceXFFSecondToLast, []string{"6.6.6.6, 203.0.113.9, 130.211.0.1"}, "169.254.1.1:1", "203.0.113.9"},
		{SourceXFFSecondToLast, []string{"6.6.6.6", "203.0.113.9,130.211.0.1"}, "169.254.1.1:1", "203.0.113.9"},
		// Too few entries (around the balancer): the peer, never the client's word.
		{SourceXFFSecondToLast, []string{"6.6.6.6"}, "169.254.1.1:1", "169.254.1.1"},
		{SourceXFFSecondToLast, nil, "[2001:db8::1]:443", "2001:db8::/64"},
		// Directly on the platform: the entry it appended.
		{SourceXFFLast, []string{"6.6.6.6, 203.0.113.9"}, "169.254.1.1:1", "203.0.113.9"},
		{SourceXFFLast, []string{""}, "192.0.2.4:9", "192.0.2.4"},
		// Nothing in front: the peer, whatever the headers say.
		{SourcePeer, []string{"6.6.6.6, 7.7.7.7"}, "192.0.2.4:9", "192.0.2.4"},
		// IPv6 by its /64, which one host or home network usually has
		// whole; IPv4-mapped addresses as IPv4.
		{SourceXFFLast, []string{"2001:db8:1:2:aaaa::1"}, "192.0.2.4:9", "2001:db8:1:2::/64"},
		{SourceXFFLast, []string{"2001:db8:1:2:ffff:ffff:ffff:ffff"}, "192.0.2.4:9", "2001:db8:1:2::/64"},
		{SourceXFFLast, []string{"2001:db8:1:3::1"}, "192.0.2.4:9", "2001:db8:1:3::/64"},
		{SourcePeer, nil, "[fe80::1%eth0]:443", "fe80::/64"},
		{SourcePeer, nil, "[::ffff:192.0.2.7]:443", "192.0.2.7"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := tc.src.address(r); got != tc.want {
			t.Errorf("%s with X-Forwarded-For %q from %s: %q, want %q", tc.src, tc.xff, tc.peer, got, tc.want)
		}
	}
}

func TestSourceRateLimit(t *testing.T) {
	now := testNow
	tr := newTestReceiver(t, func(c *HandlerConfig) {
		c.SourceRate, c.SourceBurst = 2, 5
		c.Now = func() time.Time { return now }
	})
	from := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(goodBody))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = addr + ":5000"
		return tr.do(req)
	}
	for i := range 5 {
		if w := from("203.0.113.1"); w.Code != 200 {
			t.Fatalf("upload %d within the burst: %d", i, w.Code)
		}
	}
	w := from("203.0.113.1")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "too many uploads from this address") {
		t.Fatalf("over the burst: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if tr.sink.calls != 5 {
		t.Fatalf("the sink saw %d uploads, want 5: a limited one never reaches it", tr.sink.calls)
	}
	// Another address has its own bucket; the first refills at the rate.
	if w := from("203.0.113.2"); w.Code != 200 {
		t.Fatalf("another address: %d", w.Code)
	}
	now = now.Add(500 * time.Millisecond)
	if w := from("203.0.113.1"); w.Code != 200 {
		t.Fatalf("after a token's time: %d", w.Code)
	}
	if w := from("203.0.113.1"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("and again at once: %d", w.Code)
	}
	// The sink is told the address, to bound what it may do.
	if got := tr.sink.uploads[0].Source; got != "203.0.113.1" {
		t.Fatalf("the upload's source is %q", got)
	}
	// The addresses of one IPv6 /64 share a bucket: a host cannot step
	// through its /64 for fresh ones.
	for i := range 5 {
		if w := from(fmt.Sprintf("[2001:db8:5:6::%x]", i+1)); w.Code != 200 {
			t.Fatalf("IPv6 upload %d within the burst: %d", i, w.Code)
		}
	}
	if w := from("[2001:db8:5:6:ffff::1]"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64 over the burst: %d", w.Code)
	}
	if w := from("[2001:db8:5:7::1]"); w.Code != 200 {
		t.Fatalf("the next /64: %d", w.Code)
	}
	if got := tr.sink.uploads[len(tr.sink.uploads)-1].Source; got != "2001:db8:5:7::/64" {
		t.Fatalf("the IPv6 upload's source is %q", got)
	}
}

// TestLimiterMemoryIsBounded: a million addresses keep at most MaxSources
// buckets; past that they share one, and buckets idle long enough to be
// full again are forgotten.
func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newLimiter(1, 2)
	now := testNow
	for i := range MaxSources + 5000 {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), now)
	}
	if n := len(l.buckets); n != MaxSources {
		t.Fatalf("%d buckets, want %d", n, MaxSources)
	}
	// The overflow shares one bucket: its burst is spent.
	if ok, _ := l.allow("198.51.100.1", now); ok {
		t.Fatal("a new address past the bound got a token of its own")
	}
	now = now.Add(3 * time.Second) // every bucket full again
	if ok, _ := l.allow("198.51.100.1", now); !ok {
		t.Fatal("after the sweep a new address was refused")
	}
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}
}

// healthSink records the outcomes the receiver reports.
type healthSink struct {
	recordingSink
	got []string
}

func (h *healthSink) Count(_ context.Context, _ time.Time, outcome, reason string) {
	h.got = append(h.got, outcome+"/"+reason)
}

// Write counts an upload it takes as accepted, as sink.Store says: the
// handler does not count it again.
func (h *healthSink) Write(ctx context.Context, u *sink.Upload) error {
	err := h.recordingSink.Write(ctx, u)
	if err == nil {
		h.Count(ctx, u.Received, sink.Accepted, "")
	}
	return err
}

func TestOutcomesReported(t *testing.T) {
	hs := &healthSink{}
	tr := newTestReceiver(t, func(c *HandlerConfig) { c.Store = hs; c.SourceRate, c.SourceBurst = 1, 3 })
	tr.post(goodBody)
	tr.post(`{"id":`)
	tr.do(httptest.NewRequest(http.MethodGet, "/", nil))
	tr.post(goodBody)
	tr.post(goodBody)
	want := "accepted/ refused/invalid refused/method rate_limited/source_rate rate_limited/source_rate"
	if got := strings.Join(hs.got, " "); got != want {
		t.Fatalf("outcomes %s, want %s", got, want)
	}
	hs.err = &sink.LimitedError{Reason: "new_installs", RetryAfter: 90 * time.Minute}
	// A sink's own limit: 429 with its Retry-After.
	tr2 := newTestReceiver(t, func(c *HandlerConfig) { c.Store = hs })
	hs.got = nil
	w := tr2.post(goodBody)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != strconv.Itoa(90*60) {
		t.Fatalf("a sink's limit: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	if len(hs.got) != 1 || hs.got[0] != "rate_limited/new_installs" {
		t.Fatalf("outcomes %v", hs.got)
	}
}

func TestSourceConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := LoadConfig(env(map[string]string{}), nil)
	if err != nil || cfg.Source != SourceXFFLast || cfg.SourceRate != DefaultSourceRate || cfg.SourceBurst != DefaultSourceBurst {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = LoadConfig(env(map[string]string{"TELEMETRY_SOURCE": "xff-second-to-last", "TELEMETRY_SOURCE_RATE": "off"}), nil)
	if err != nil || cfg.Source != SourceXFFSecondToLast || cfg.SourceRate != 0 {
		t.Fatalf("set: %+v, %v", cfg, err)
	}
	for k, v := range map[string]string{"TELEMETRY_SOURCE": "xff", "TELEMETRY_SOURCE_RATE": "-1", "TELEMETRY_SOURCE_BURST": "0"} {
		if _, err := LoadConfig(env(map[string]string{k: v}), nil); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		}
	}
}
