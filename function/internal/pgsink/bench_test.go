package pgsink_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHandlerPostgres measures uploads per second through the real
// handler into a real PostgreSQL: 8 concurrent clients, 20 counters an
// upload, 10,000 installs each uploading growing counts, each from its own
// address (the bounds on, as deployed: one address may bring 250 new
// installs a day).
func BenchmarkHandlerPostgres(b *testing.B) {
	r := newRig(b)
	paths := []string{"pace", "pace apply", "pace apply data-policy", "pace completion", "pace completion bash", "pace delete data-policy",
		"pace evaluate", "pace evaluate data-policy", "pace get", "pace get data-policy", "pace help", "pace list", "pace list data-policies",
		"pace list processing-platforms", "pace list schemas", "pace list tables", "pace telemetry", "pace telemetry disable",
		"pace telemetry enable", "pace transpile"}
	const installs, clients = 10000, 8
	ids := make([]string, installs)
	for i := range ids {
		ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	var seq atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := seq.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				install, round := int(n%installs), n/installs+1
				counts := map[string]map[int]uint64{}
				for _, p := range paths {
					counts[p] = map[int]uint64{0: uint64(round)}
				}
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body(ids[install], "v1.25.0", "linux", counts)))
				req.Header.Set("Content-Type", "application/json")
				req.RemoteAddr = fmt.Sprintf("10.0.%d.%d:40000", install/250, install%250)
				w := httptest.NewRecorder()
				r.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Errorf("upload answered %d: %s", w.Code, w.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "uploads/s")
}
