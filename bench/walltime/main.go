// Command walltime measures what counting costs a pace run: it times
// `pace version` with telemetry on (a file of N counters) and with
// PACE_TELEMETRY_DISABLED=1, interleaved so that both see the same machine
// noise, and prints the medians and their ratio. Given several binaries
// (-pace a,b), it times them all in the same interleaved rounds, so that a
// change can be compared with the build before it on equal terms.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pace-cli/pace/internal/telemetry"
)

type variant struct {
	bin, name string
	env       []string
	took      []time.Duration
}

func main() {
	bins := flag.String("pace", "bin/pace", "the pace binaries to time, separated by commas")
	runs := flag.Int("runs", 300, "runs of each variant")
	counters := flag.Int("counters", 300, "counters in the telemetry file")
	flag.Parse()

	seed, err := os.MkdirTemp("", "pace-bench-seed-")
	check(err)
	defer os.RemoveAll(seed)
	s := &telemetry.Store{Dir: seed, Version: "v1.16.0"}
	for i := 0; len(mustLoad(s)) < *counters; i++ {
		s.Record(fmt.Sprintf("pace verb%d noun%d", i%7, i/3), i%3)
	}
	seeded, err := os.ReadFile(s.Path())
	check(err)

	var variants []*variant
	for _, bin := range strings.Split(*bins, ",") {
		// Each binary counts in a folder of its own, from the same file.
		on, err := os.MkdirTemp("", "pace-bench-on-")
		check(err)
		defer os.RemoveAll(on)
		check(os.WriteFile(filepath.Join(on, telemetry.FileName), seeded, 0o600))
		off, err := os.MkdirTemp("", "pace-bench-off-")
		check(err)
		defer os.RemoveAll(off)
		variants = append(variants,
			&variant{bin: bin, name: "telemetry on", env: []string{"PACE_CONFIG_PATH=" + on}},
			&variant{bin: bin, name: "PACE_TELEMETRY_DISABLED=1", env: []string{"PACE_CONFIG_PATH=" + off, "PACE_TELEMETRY_DISABLED=1"}})
	}
	for i := 0; i < *runs+10; i++ {
		for j := range variants {
			v := variants[(i+j)%len(variants)] // rotate which goes first
			cmd := exec.Command(v.bin, "version")
			cmd.Env = v.env
			start := time.Now()
			check(cmd.Run())
			if i >= 10 { // the first runs warm caches
				v.took = append(v.took, time.Since(start))
			}
		}
	}
	fmt.Printf("pace version, %d runs each, interleaved; telemetry file of %d counters\n", *runs, len(mustLoad(s)))
	for i := 0; i < len(variants); i += 2 {
		if len(variants) > 2 {
			fmt.Printf("%s:\n", variants[i].bin)
		}
		on, off := median(variants[i]), median(variants[i+1])
		fmt.Printf("  recording adds %v to the median; ratio on/off = %.3f\n", (on - off).Round(time.Microsecond), float64(on)/float64(off))
	}
}

func median(v *variant) time.Duration {
	slices.Sort(v.took)
	m := v.took[len(v.took)/2]
	fmt.Printf("  %-28s median %8v   p90 %8v\n", v.name, m.Round(time.Microsecond), v.took[len(v.took)*9/10].Round(time.Microsecond))
	return m
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
