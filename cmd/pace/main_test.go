package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/telemetry"
)

// These tests run the real binary as separate processes: the guarantees
// they check (locking, atomic replace, no sockets) are about processes.

var paceBin string

func TestMain(m *testing.M) {
	paceBin = servertest.MustBuild(".")
	os.Exit(servertest.Run(m))
}

type result struct {
	stdout, stderr string
	code           int
}

// pace runs the binary with a clean environment plus env.
func pace(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(paceBin, args...)
	cmd.Env = append([]string{"PACE_CONFIG_PATH=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
	return run(t, cmd)
}

// run runs cmd to its end and keeps what it printed and its exit code.
func run(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errOut.String(), code}
}

func load(t *testing.T, dir string) map[string]map[int]uint64 {
	t.Helper()
	p, err := (&telemetry.Store{Dir: dir}).Load()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]map[int]uint64{}
	for path, codes := range p.MetricPoints {
		counts[path] = map[int]uint64{}
		for code, pt := range codes {
			counts[path][code] = pt.CumulativeCount
		}
	}
	return counts
}

// strays lists files in dir other than what a clean run leaves.
func strays(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var odd []string
	for _, e := range entries {
		switch name := e.Name(); {
		case name == "telemetry.yaml", name == "telemetry.yaml.lock", strings.HasPrefix(name, "telemetry.yaml.tmp-"), name == "telemetry-notice":
		default:
			odd = append(odd, name)
		}
	}
	return odd
}

// 64 processes started at once, 25 runs each: exactly 1600 counts.
func TestConcurrentProcessesLoseNoCount(t *testing.T) {
	dir := t.TempDir()
	const procs, runs = 64, 25
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan string, procs*runs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			<-start
			for r := 0; r < runs; r++ {
				cmd := exec.Command(paceBin, "version")
				cmd.Env = []string{"PACE_CONFIG_PATH=" + dir, "PACE_TELEMETRY_DEBUG=1"}
				out, err := cmd.CombinedOutput()
				if err != nil || strings.Contains(string(out), "not recorded") {
					errs <- fmt.Sprintf("process %d run %d: %v %s", p, r, err, out)
				}
			}
		}(p)
	}
	// A reader all the while, as pace-telemetryd and `pace telemetry show`
	// read: every read is whole, and the count never goes down. (Counts are
	// written over in place, a byte or two at a time: a reader without the
	// lock would rarely catch one half done here; lockedfile's
	// TestReadSharedNeverSeesAHalfWrite shows that it can.)
	stopReading := make(chan struct{})
	reads := make(chan string)
	go func() {
		var last uint64
		n := 0
		for {
			select {
			case <-stopReading:
				reads <- fmt.Sprintf("%d reads", n)
				return
			default:
			}
			p, err := (&telemetry.Store{Dir: dir}).Load()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				reads <- fmt.Sprintf("read %d: %v", n, err)
				return
			}
			got := p.MetricPoints["pace version"][0].CumulativeCount
			if got < last || got > procs*runs {
				reads <- fmt.Sprintf("read %d: count %d after %d", n, got, last)
				return
			}
			last = got
			n++
		}
	}()
	close(start)
	wg.Wait()
	close(stopReading)
	if r := <-reads; !strings.HasSuffix(r, " reads") {
		t.Error("the reader saw a bad file: " + r)
	} else {
		t.Log("the reader made " + r)
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := load(t, dir)["pace version"][0]; got != procs*runs {
		t.Fatalf("pace version counted %d times, want %d", got, procs*runs)
	}
	if odd := strays(t, dir); len(odd) > 0 {
		t.Fatalf("unexpected files: %v", odd)
	}
}

// SIGKILL at random moments never leaves a partial telemetry.yaml: after
// every kill the file is whole, and counts only grow.
func TestKilledProcessesNeverLeaveAPartialFile(t *testing.T) {
	dir := t.TempDir()
	// A big file widens the window in which a kill lands mid-write.
	seed := exec.Command(paceBin, "version")
	seed.Env = []string{"PACE_CONFIG_PATH=" + dir}
	if err := seed.Run(); err != nil {
		t.Fatal(err)
	}
	writeCounters(t, dir, 300)
	// Spread the kills evenly over a whole run, from exec to exit.
	runTime := time.Duration(0)
	for i := 0; i < 5; i++ {
		start := time.Now()
		pace(t, dir, nil, "version")
		runTime = max(runTime, time.Since(start))
	}
	var last uint64
	killed, finished := 0, 0
	const kills = 200
	for i := 0; i < kills; i++ {
		cmd := exec.Command(paceBin, "version")
		cmd.Env = []string{"PACE_CONFIG_PATH=" + dir}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(runTime * time.Duration(i) / kills)
		cmd.Process.Kill()
		if err := cmd.Wait(); err != nil {
			killed++
		} else {
			finished++
		}
		counts := load(t, dir) // fails the test on a partial file
		if n := counts["pace version"][0]; n < last {
			t.Fatalf("count went down from %d to %d", last, n)
		} else {
			last = n
		}
		if len(counts) < 100 {
			t.Fatalf("counters lost: %d paths left", len(counts))
		}
	}
	t.Logf("%d runs killed, %d finished; pace version counted %d", killed, finished, last)
	if killed == 0 || last <= 5 {
		t.Fatalf("%d runs killed, %d counted: the kills did not spread over the run", killed, last)
	}
	for _, name := range strays(t, dir) {
		if strings.Contains(name, "corrupt") {
			t.Fatalf("a kill left a file that had to be moved aside: %s", name)
		}
	}
}

// writeCounters adds n counters to the file through the real store.
func writeCounters(t *testing.T, dir string, n int) {
	t.Helper()
	s := &telemetry.Store{Dir: dir, Version: "v1.16.0"}
	for i := 0; i < n; i++ {
		s.Record(fmt.Sprintf("pace verb%d noun%d", i%7, i/3), i%3)
	}
}

// Bad files never change what the command prints or its exit code, and
// are kept aside for the user.
func TestBadFilesDoNotBreakTheCommand(t *testing.T) {
	ref := t.TempDir()
	pace(t, ref, nil, "version") // past the first-run notice
	clean := pace(t, ref, nil, "version")
	cleanUsage := pace(t, ref, nil, "version", "--bogus")
	bad := map[string][]byte{
		"empty":          nil,
		"truncated":      []byte("metric_points:\n    pace version:\n        0:\n            cumul"),
		"not YAML":       []byte("\x00\x01{[: not yaml"),
		"wrongly typed":  []byte("metric_points:\n    pace version: seventeen\nid: 36be4c46-4e1b-431d-b9db-1b315f537a85\n"),
		"negative count": []byte("metric_points:\n    pace version:\n        0:\n            cumulative_count: -1\ncli_version: v1\noperating_system: linux\nid: 36be4c46-4e1b-431d-b9db-1b315f537a85\n"),
		"over 1 MiB":     bytes.Repeat([]byte("#"), 1<<20+1),
	}
	for name, content := range bad {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pace(t, dir, nil, "version")
			for _, c := range []struct {
				args []string
				want result
			}{{[]string{"version"}, clean}, {[]string{"version", "--bogus"}, cleanUsage}} {
				if err := os.WriteFile(filepath.Join(dir, "telemetry.yaml"), content, 0o600); err != nil {
					t.Fatal(err)
				}
				got := pace(t, dir, nil, c.args...)
				if got != c.want {
					t.Fatalf("pace %v with a bad file: %+v, want %+v", c.args, got, c.want)
				}
			}
			aside, _ := filepath.Glob(filepath.Join(dir, "telemetry.yaml.corrupt-*"))
			if len(aside) != 2 {
				t.Fatalf("want the bad file kept twice, found %v", aside)
			}
			if kept, _ := os.ReadFile(aside[0]); !bytes.Equal(kept, content) {
				t.Fatal("the kept file differs from the bad one")
			}
			if got := load(t, dir)["pace version"][2]; got != 1 {
				t.Fatalf("fresh file counts %d usage errors, want 1", got)
			}
		})
	}
}
