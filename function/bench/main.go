// Command bench sends a bounded load of typical uploads (20 series each)
// to a running receiver and prints payloads per second and latency
// percentiles. load.sh runs it against function/cmd/receiver.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pace-cli/pace/function/payload"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080/", "receiver URL")
	n := flag.Int("n", 50000, "payloads to send")
	c := flag.Int("c", 8, "concurrent clients")
	maxTime := flag.Duration("max", time.Minute, "stop after this long even if -n are not sent")
	flag.Parse()

	body := typicalBody()
	tr := &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var next, failed atomic.Int64
	lat := make([][]time.Duration, *c)
	deadline := time.Now().Add(*maxTime)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for next.Add(1) <= int64(*n) && time.Now().Before(deadline) {
				t0 := time.Now()
				resp, err := client.Post(*url, "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		fmt.Fprintf(os.Stderr, "no successful requests (%d failed)\n", failed.Load())
		os.Exit(1)
	}
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	fmt.Printf("payloads=%d failed=%d clients=%d elapsed=%.2fs\n", len(all), failed.Load(), *c, elapsed.Seconds())
	fmt.Printf("payloads/s=%.0f p50=%v p99=%v max=%v\n", float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.99), all[len(all)-1])
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// typicalBody is an upload of 20 series over 14 command paths. The paths
// the receiver does not know are dropped, but still decoded and validated.
func typicalBody() string {
	paths := []string{"pace", "pace version", "pace help", "pace list tables", "pace list schemas", "pace list catalogs",
		"pace get data-policy", "pace upsert data-policy", "pace evaluate data-policy", "pace list data-policies",
		"pace telemetry status", "pace completion bash", "pace list groups", "pace get processing-platform"}
	p := payload.Payload{MetricPoints: map[string]map[int]payload.Point{}, CLIVersion: "v1.16.0", OperatingSystem: "linux", ID: "0d2f7a8e-91c4-4b6a-8f3e-5c1d2e3f4a5b"}
	for i, path := range paths {
		p.MetricPoints[path] = map[int]payload.Point{0: {CumulativeCount: uint64(100 + i)}}
		if i < 6 {
			p.MetricPoints[path][1] = payload.Point{CumulativeCount: uint64(3 + i)}
		}
	}
	b, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	return string(b)
}
