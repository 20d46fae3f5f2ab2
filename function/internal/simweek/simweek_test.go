package simweek

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/payload"
)

var testStart = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday

func TestDeterministic(t *testing.T) {
	a := Simulate(Config{Seed: 7, Start: testStart, Installs: 30})
	b := Simulate(Config{Seed: 7, Start: testStart, Installs: 30})
	c := Simulate(Config{Seed: 8, Start: testStart, Installs: 30})
	if len(a.Uploads) != len(b.Uploads) {
		t.Fatalf("same seed, %d and %d uploads", len(a.Uploads), len(b.Uploads))
	}
	for i := range a.Uploads {
		if !a.Uploads[i].At.Equal(b.Uploads[i].At) || !bytes.Equal(a.Uploads[i].Body(), b.Uploads[i].Body()) {
			t.Fatalf("same seed, upload %d differs", i)
		}
	}
	if len(a.Uploads) == len(c.Uploads) && bytes.Equal(a.Uploads[0].Body(), c.Uploads[0].Body()) {
		t.Fatal("another seed gives the same fleet")
	}
}

// Every case the dashboards must get right is in a default fleet.
func TestEveryCase(t *testing.T) {
	w := Simulate(Config{Seed: 1, Start: testStart})
	want := []string{"always on", "weekday laptop", "offline 2-4 days", "occasional", "new during the week", "upgrade", "telemetry reset"}
	for _, c := range want {
		n := 0
		for k, v := range w.Cases {
			if strings.HasPrefix(k, c) {
				n += v
			}
		}
		if n == 0 {
			t.Errorf("no install of case %q: %v", c, w.Cases)
		}
	}
	zones := 0
	for k := range w.Cases {
		if strings.HasPrefix(k, "weekday laptop UTC") {
			zones++
		}
	}
	if zones < 3 {
		t.Errorf("laptops in %d time zones, want several", zones)
	}
	codes := w.Truth.RunsPerExitCode(w.Start, w.End)
	if len(codes) < 4 || codes[0] == 0 || codes[1] == 0 {
		t.Errorf("exit codes %v, want successes and several kinds of failure", codes)
	}
	versions := map[string]bool{}
	unknown, empty := 0, 0
	for _, u := range w.Uploads {
		versions[u.Payload.CLIVersion] = true
		if _, ok := u.Payload.MetricPoints[UnknownPath]; ok {
			unknown++
		}
		if len(u.Payload.MetricPoints) == 0 {
			empty++
		}
	}
	if len(versions) != len(Versions) || unknown == 0 || empty == 0 {
		t.Errorf("versions %v, %d uploads with an unknown path, %d empty uploads", versions, unknown, empty)
	}
}

// The uploads are valid bodies, in time order per install, never on a
// whole second, and none is sent while its machine is offline.
func TestUploadsFollowTheDaemon(t *testing.T) {
	w := Simulate(Config{Seed: 3, Start: testStart})
	last := map[int]time.Time{}
	for i, u := range w.Uploads {
		p, err := payload.Decode(u.Body())
		if err == nil {
			err = p.Validate()
		}
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		if u.At.Nanosecond() == 0 || u.At.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("upload %d at %v: want whole milliseconds, not a whole second", i, u.At)
		}
		if i > 0 && u.At.Before(w.Uploads[i-1].At) {
			t.Fatalf("uploads not sorted at %d", i)
		}
		if prev, ok := last[u.Install]; ok && u.At.Sub(prev) < Interval {
			t.Fatalf("install %d uploaded %v after its previous upload, under the interval", u.Install, u.At.Sub(prev))
		}
		last[u.Install] = u.At
	}
}

// The truth, built from the runs, agrees with the uploads' cumulative
// counts: for each id and counter, the runs counted over all time are the
// last count uploaded.
func TestTruthMatchesCumulativeCounts(t *testing.T) {
	w := Simulate(Config{Seed: 5, Start: testStart})
	type k struct {
		id   string
		path string
		code int
	}
	last := map[k]uint64{}
	for _, u := range w.Uploads {
		for path, codes := range u.Payload.MetricPoints {
			for code, p := range codes {
				if path != UnknownPath {
					last[k{u.Payload.ID, path, code}] = p.CumulativeCount
				}
			}
		}
	}
	counted := map[k]uint64{}
	for _, c := range w.Truth.Counted {
		counted[k{c.ID, c.Path, c.ExitCode}] += c.Runs
	}
	if len(counted) != len(last) {
		t.Fatalf("%d counters in the truth, %d uploaded", len(counted), len(last))
	}
	for key, n := range last {
		if counted[key] != n {
			t.Errorf("%v: truth %d, last upload %d", key, counted[key], n)
		}
	}
	// Per-day sums add up to the week's.
	var days uint64
	for i := range w.Days() {
		from, to := w.Day(i)
		days += w.Truth.Total(from, to)
	}
	if week := w.Truth.Total(w.Start, w.End); days != week || week == 0 {
		t.Fatalf("days sum to %d, the week holds %d", days, week)
	}
}

// An install offline for days shows its runs on the day it comes back:
// the truth counts runs at upload time, not run time.
func TestOfflineRunsCountWhenUploaded(t *testing.T) {
	w := Simulate(Config{Seed: 1, Start: testStart})
	found := false
	for _, u := range w.Uploads {
		if u.At.Before(w.Start) || len(u.Payload.MetricPoints) == 0 {
			continue
		}
		for i := range w.Uploads {
			v := &w.Uploads[i]
			if v.Install == u.Install && v.At.Before(u.At) && u.At.Sub(v.At) > 40*time.Hour && len(v.Payload.MetricPoints) > 0 && v.Payload.ID == u.Payload.ID {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("no install went 40 hours between uploads")
	}
	if w.Truth.Installs(w.Start, w.End) < 40 || w.Truth.Installs(w.Start, w.End) > 40+10+10 {
		t.Fatalf("%d installs in the week", w.Truth.Installs(w.Start, w.End))
	}
}
