// Command walltime measures what counting costs a pace run: it times
// `pace version` with telemetry on (a file of N counters) and with
// PACE_TELEMETRY_DISABLED=1, interleaved so that both see the same machine
// noise, and prints the medians and their ratio.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/pace-cli/pace/internal/telemetry"
)

func main() {
	bin := flag.String("pace", "bin/pace", "the pace binary to time")
	runs := flag.Int("runs", 300, "runs of each variant")
	counters := flag.Int("counters", 300, "counters in the telemetry file")
	flag.Parse()

	on, err := os.MkdirTemp("", "pace-bench-on-")
	check(err)
	defer os.RemoveAll(on)
	off, err := os.MkdirTemp("", "pace-bench-off-")
	check(err)
	defer os.RemoveAll(off)
	s := &telemetry.Store{Dir: on, Version: "v1.16.0"}
	for i := 0; len(mustLoad(s)) < *counters; i++ {
		s.Record(fmt.Sprintf("pace verb%d noun%d", i%7, i/3), i%3)
	}

	variants := []struct {
		name string
		env  []string
		took []time.Duration
	}{
		{name: "telemetry on", env: []string{"PACE_CONFIG_PATH=" + on}},
		{name: "PACE_TELEMETRY_DISABLED=1", env: []string{"PACE_CONFIG_PATH=" + off, "PACE_TELEMETRY_DISABLED=1"}},
	}
	for i := 0; i < *runs+10; i++ {
		for j := range variants {
			v := &variants[(i+j)%2] // alternate which goes first
			cmd := exec.Command(*bin, "version")
			cmd.Env = v.env
			start := time.Now()
			check(cmd.Run())
			if i >= 10 { // the first runs warm caches
				v.took = append(v.took, time.Since(start))
			}
		}
	}
	counted := mustLoad(s)
	fmt.Printf("pace version, %d runs each, interleaved; telemetry file of %d counters\n", *runs, len(counted))
	med := make([]time.Duration, 2)
	for j, v := range variants {
		slices.Sort(v.took)
		med[j] = v.took[len(v.took)/2]
		fmt.Printf("  %-28s median %8v   p90 %8v\n", v.name, med[j].Round(time.Microsecond), v.took[len(v.took)*9/10].Round(time.Microsecond))
	}
	fmt.Printf("  recording adds %v to the median; ratio on/off = %.3f\n", (med[0] - med[1]).Round(time.Microsecond), float64(med[0])/float64(med[1]))
}

func mustLoad(s *telemetry.Store) map[string]int {
	p, err := s.Load()
	if err != nil {
		return nil
	}
	keys := map[string]int{}
	for path, codes := range p.MetricPoints {
		for code := range codes {
			keys[fmt.Sprint(path, code)]++
		}
	}
	return keys
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "walltime:", err)
		os.Exit(1)
	}
}
