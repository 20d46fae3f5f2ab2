// Command daemoncost measures what pace-telemetryd costs: CPU time and
// memory of a daemon left idle, and the time from the end of a pace run to
// the delivery of its count (debounce 0, no interval). Linux only: it reads
// /proc.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pace-cli/pace/function/payload"
)

func main() {
	paceBin := flag.String("pace", "bin/pace", "pace binary")
	daemonBin := flag.String("daemon", "bin/pace-telemetryd", "pace-telemetryd binary")
	idle := flag.Duration("idle", time.Minute, "how long to leave the daemon idle")
	runs := flag.Int("runs", 30, "pace runs for the latency")
	flag.Parse()

	// A receiver that notes when each count of pace version arrives.
	var mu sync.Mutex
	arrived := map[uint64]time.Time{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var p payload.Payload
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &p); err != nil {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		arrived[p.MetricPoints["pace version"][0].CumulativeCount] = now
		mu.Unlock()
		io.WriteString(w, "OK")
	}))
	defer srv.Close()
	seen := func(n uint64) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		t, ok := arrived[n]
		return t, ok
	}

	dir, err := os.MkdirTemp("", "pace-daemoncost-")
	check(err)
	defer os.RemoveAll(dir)
	pace := func() {
		cmd := exec.Command(*paceBin, "version")
		cmd.Env = []string{"PACE_CONFIG_PATH=" + dir}
		check(cmd.Run())
	}
	pace()
	d := exec.Command(*daemonBin, "run", "--config-path", dir, "--endpoint", srv.URL, "--debounce=0", "--telemetry-upload-interval-seconds=0")
	check(d.Start())
	defer func() { d.Process.Kill(); d.Wait() }()
	waitFor(seen, 1)

	time.Sleep(time.Second) // let start-up work settle
	cpu0 := cpuTime(d.Process.Pid)
	time.Sleep(*idle)
	cpu1 := cpuTime(d.Process.Pid)
	fmt.Printf("idle for %v: CPU %.2f ms (target < 10 ms), RSS %.1f MiB (target < 20 MiB)\n",
		*idle, float64(cpu1-cpu0)/1e6, float64(rss(d.Process.Pid))/(1<<20))

	var lat []time.Duration
	for i := 0; i < *runs; i++ {
		// From the start of the run: the count is often delivered before
		// pace has finished exiting.
		start := time.Now()
		pace()
		at := waitFor(seen, uint64(i+2))
		lat = append(lat, at.Sub(start))
		time.Sleep(20 * time.Millisecond)
	}
	slices.Sort(lat)
	fmt.Printf("pace run started -> count delivered, %d runs: median %v, p90 %v, max %v (target < 100 ms)\n",
		len(lat), lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*9/10].Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

func waitFor(seen func(uint64) (time.Time, bool), n uint64) time.Time {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if t, ok := seen(n); ok {
			return t
		}
		time.Sleep(100 * time.Microsecond)
	}
	check(fmt.Errorf("count %d never arrived", n))
	return time.Time{}
}

// cpuTime sums the nanoseconds on CPU of every thread (schedstat is exact,
// unlike the 10 ms ticks of /proc/PID/stat).
func cpuTime(pid int) int64 {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	check(err)
	var total int64
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		n, _ := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
		total += n
	}
	return total
}

func rss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemoncost:", err)
		os.Exit(1)
	}
}
