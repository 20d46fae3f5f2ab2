package receiver

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Source says where a request's source address is read, which the bounds
// per address use: only what the last trusted hop wrote counts, since a
// client can put anything in the headers it sends.
type Source string

const (
	// SourceXFFSecondToLast: behind Google's external Application Load
	// Balancer, X-Forwarded-For ends "<client-ip>,<load-balancer-ip>";
	// earlier entries are the client's own.
	SourceXFFSecondToLast Source = "xff-second-to-last"
	// SourceXFFLast: directly on a function or Cloud Run URL, the
	// platform's front end appends the address it saw as the last entry.
	SourceXFFLast Source = "xff-last"
	// SourcePeer: the TCP peer, for cmd/receiver and any server with nothing
	// in front of it.
	SourcePeer Source = "peer"
)

// DefaultSource is the deployed function's: the entry the platform itself
// appends, which no client can choose. Behind the load balancer every
// upload would then share the balancer's address, which fails closed
// (uploads wait) instead of letting clients pick their own address; set
// xff-second-to-last there (docs/abuse.md).
const DefaultSource = SourceXFFLast

func parseSource(v string) (Source, error) {
	switch s := Source(v); s {
	case SourceXFFSecondToLast, SourceXFFLast, SourcePeer:
		return s, nil
	}
	return "", fmt.Errorf("TELEMETRY_SOURCE %q: want %s (behind Google's external load balancer), %s (directly on a function URL) or %s (nothing in front, as cmd/receiver)",
		v, SourceXFFSecondToLast, SourceXFFLast, SourcePeer)
}

// address returns r's source, the key of the bounds per address, by s: an
// IPv4 address, or an IPv6 address's /64. A request that lacks the
// entries the setting expects (sent around the balancer, or by a test)
// falls back to the peer, which is never a client's choice.
func (s Source) address(r *http.Request) string {
	return sourceKey(s.hop(r))
}

// sourceKey groups an IPv6 address by its /64: one host or home network
// is usually given a whole /64, so counting its addresses apart would give
// it fresh bounds at will. IPv4 (and IPv4-mapped IPv6) stays whole; text
// that is not an address is kept as it is.
func sourceKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
}

// hop returns the address s reads from r.
func (s Source) hop(r *http.Request) string {
	if s != SourcePeer {
		var hops []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for _, e := range strings.Split(h, ",") {
				hops = append(hops, strings.TrimSpace(e))
			}
		}
		i := len(hops) - 1
		if s == SourceXFFSecondToLast {
			i--
		}
		if i >= 0 && hops[i] != "" {
			return hops[i]
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Defaults of the per-source token bucket, a cost guard of one instance.
// A daemon uploads at most once a minute and usually once an hour, so even
// a NAT of a thousand daemons uploading each minute (about 17 a second)
// stays under it; a flood from one address is answered 429 after the
// burst. The fleet-wide limit belongs in front (Cloud Armor,
// docs/abuse.md).
const (
	DefaultSourceRate  = 20  // uploads per second per source address
	DefaultSourceBurst = 200 // uploads at once
	// MaxSources bounds the instance's memory: a bucket is about 100
	// bytes; past this many addresses, new ones share one bucket until
	// idle ones are forgotten.
	MaxSources = 100_000
)

// limiter is a token bucket per source address, in memory.
type limiter struct {
	rate  rate.Limit
	burst int

	mu       sync.Mutex
	buckets  map[string]*bucket
	overflow *rate.Limiter
	swept    time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// allow takes one token of src's bucket at now, or says how long to wait.
func (l *limiter) allow(src string, now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A bucket unused for the time it takes to fill is as good as new:
	// forgetting it changes nothing, and bounds the map.
	full := time.Duration(float64(l.burst) / float64(l.rate) * float64(time.Second))
	if len(l.buckets) >= MaxSources && now.Sub(l.swept) > time.Second {
		l.swept = now
		for k, b := range l.buckets {
			if now.Sub(b.used) > full {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[src]
	lim := l.overflow
	switch {
	case b != nil:
		lim, b.used = b.lim, now
	case len(l.buckets) < MaxSources:
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst), used: now}
		l.buckets[src] = b
		lim = b.lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// retryAfter is d in whole seconds, at least 1, for the header.
func retryAfter(d time.Duration) string {
	return fmt.Sprint(max(int64(math.Ceil(d.Seconds())), 1))
}
