package simweek

import (
	"bytes"
	"math"
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
	if len(versions) != len(Versions)+2 || !versions[DevVersion] || !versions[PreRelease] || unknown == 0 || empty == 0 {
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
		if i > 0 && w.Uploads[i-1].Install == u.Install && u.At.Sub(w.Uploads[i-1].At) <= 2*time.Millisecond &&
			w.Uploads[i-1].Payload.CLIVersion != u.Payload.CLIVersion {
			continue // the old version's counts, then the new: one attempt
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

// The release-health cases: two releases inside the period, the newest
// raising RegressedCommand's failure rate, the first adding NewExitCode to
// NewCodeCommand, and fixing ImprovedCommand; RareCommand run by exactly
// two installs, UnusedCommand by none; and none of the injected failures
// in a clean fleet.
func TestReleaseCases(t *testing.T) {
	for _, clean := range []bool{false, true} {
		w := Simulate(Config{Seed: 11, Start: testStart, Days: 10, Installs: 80, Clean: clean})
		if len(w.Releases) != 2 || !w.Releases[0].At.After(w.Start) || !w.Releases[1].At.Before(w.End) {
			t.Fatalf("releases %v, want two inside [%v, %v)", w.Releases, w.Start, w.End)
		}
		rate := map[string][2]uint64{}     // version -> failing, all runs of RegressedCommand
		improved := map[string][2]uint64{} // the same of ImprovedCommand
		rare := map[string]bool{}
		newCode := map[string]uint64{}
		for _, c := range w.Truth.Counted {
			switch c.Path {
			case RegressedCommand:
				n := rate[c.Version]
				if c.ExitCode != 0 {
					n[0] += c.Runs
				}
				n[1] += c.Runs
				rate[c.Version] = n
			case ImprovedCommand:
				n := improved[c.Version]
				if c.ExitCode != 0 {
					n[0] += c.Runs
				}
				n[1] += c.Runs
				improved[c.Version] = n
			case RareCommand:
				rare[c.ID] = true
			case UnusedCommand:
				t.Errorf("a run of %s", UnusedCommand)
			case NewCodeCommand:
				if c.ExitCode == NewExitCode {
					newCode[c.Version] += c.Runs
				}
			}
		}
		if len(rare) != 2 {
			t.Errorf("%d installs ran %s, want 2", len(rare), RareCommand)
		}
		newest, prev := Versions[len(Versions)-1], Versions[len(Versions)-2]
		r := func(v string) float64 { return float64(rate[v][0]) / float64(rate[v][1]) }
		if rate[newest][1] < 50 || rate[prev][1] < 50 {
			t.Fatalf("runs of %s per version %v: too few to compare", RegressedCommand, rate)
		}
		// Old runs uploaded after an upgrade dilute the difference a little.
		if d := 100 * (r(newest) - r(prev)); clean && math.Abs(d) > 15 || !clean && d < RegressionPoints/2 {
			t.Errorf("clean %v: %s fails %.1f points more on %s than on %s", clean, RegressedCommand, d, newest, prev)
		}
		ir := func(v string) float64 { return float64(improved[v][0]) / float64(improved[v][1]) }
		if improved[newest][1] < 50 || improved[prev][1] < 50 {
			t.Fatalf("runs of %s per version %v: too few to compare", ImprovedCommand, improved)
		}
		if d := 100 * (ir(prev) - ir(newest)); clean && math.Abs(d) > 15 || !clean && d < ImprovementPoints/2 {
			t.Errorf("clean %v: %s fails %.1f points less on %s than on %s", clean, ImprovedCommand, d, newest, prev)
		}
		for v, n := range newCode {
			if v != newest && v != prev && n > 0 {
				t.Errorf("exit code %d of %s on %s, released before it", NewExitCode, NewCodeCommand, v)
			}
		}
		if clean != (newCode[newest]+newCode[prev] == 0) {
			t.Errorf("clean %v: exit code %d of %s per version %v", clean, NewExitCode, NewCodeCommand, newCode)
		}
	}
}

// Counts carry no version: runs made before an upgrade and uploaded after
// it count for the new version, unless the daemon, seeing the file's
// cli_version change, uploads the counts it read before first. This
// measures the error with the daemon before that change and with it, on
// the fleet of the release-health test (docs/deploy.md quotes both).
func TestVersionAttributionError(t *testing.T) {
	newest := Versions[len(Versions)-1]
	var errs [2]uint64
	for i, old := range []bool{true, false} {
		w := Simulate(Config{Seed: 20261203, Start: testStart, Days: 14, Installs: 40, NewInstalls: 8, OldDaemon: old})
		other, all := w.Truth.Misattributed(w.Start, w.End, "")
		otherN, allN := w.Truth.Misattributed(w.Start, w.End, newest)
		upgrades := w.Cases["upgrade"]
		t.Logf("old daemon %v: %d of %d runs (%.2f %%) uploaded with a version they did not run on, after %d upgrades (%.1f runs each); %d of the %d runs counted for %s (%.2f %%)",
			old, other, all, 100*float64(other)/float64(all), upgrades, float64(other)/float64(upgrades), otherN, allN, newest, 100*float64(otherN)/float64(allN))
		if upgrades == 0 {
			t.Fatal("no upgrade to measure")
		}
		errs[i] = other
	}
	if errs[0] == 0 || errs[1] != 0 {
		t.Errorf("runs attributed to another version: %d with the old daemon (want some), %d with this one (want none: it reads every change)", errs[0], errs[1])
	}
}
