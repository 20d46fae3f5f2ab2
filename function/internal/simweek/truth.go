package simweek

import (
	"cmp"
	"slices"
	"time"
)

// Counted is one upload's share of the truth for one (path, exit code):
// the runs it carried for the first time.
type Counted struct {
	At       time.Time // the upload's receive time
	ID       string
	Version  string // the upload's cli_version
	OS       string
	Path     string
	ExitCode int
	Runs     uint64
	// OtherVersion is how many of Runs ran on another version than the
	// upload's: runs made before an upgrade and uploaded after it, which
	// every store attributes to the new version.
	OtherVersion uint64
}

// Seen is an upload that carried at least one counter of an allow-listed
// path, and so reaches a store: what "installs uploading in a range"
// counts. An upload of empty counts (a new install, just after a reset)
// writes nothing and is not Seen.
type Seen struct {
	At      time.Time
	ID      string
	Version string
	OS      string
}

// Truth is what the dashboards must show, built from the simulated runs.
// Every query takes a range [from, to).
type Truth struct {
	Counted []Counted // sorted by At
	Seen    []Seen    // sorted by At
}

// Key is a (command path, exit code).
type Key struct {
	Path     string
	ExitCode int
}

// upload records the runs an upload at `at` carries for the first time,
// and whether it carries any counter of an allow-listed path.
func (t *Truth) upload(at time.Time, id, version, os string, runs []event, counts map[Key]uint64) {
	per := map[Key][2]uint64{}
	for _, r := range runs {
		if r.path != UnknownPath {
			n := per[Key{r.path, r.code}]
			n[0]++
			if r.version != version {
				n[1]++
			}
			per[Key{r.path, r.code}] = n
		}
	}
	for k, n := range per {
		t.Counted = append(t.Counted, Counted{At: at, ID: id, Version: version, OS: os, Path: k.Path, ExitCode: k.ExitCode, Runs: n[0], OtherVersion: n[1]})
	}
	for k := range counts {
		if k.Path != UnknownPath {
			t.Seen = append(t.Seen, Seen{At: at, ID: id, Version: version, OS: os})
			return
		}
	}
}

func (t *Truth) sort() {
	slices.SortStableFunc(t.Counted, func(a, b Counted) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Path, b.Path), cmp.Compare(a.ExitCode, b.ExitCode))
	})
	slices.SortStableFunc(t.Seen, func(a, b Seen) int { return a.At.Compare(b.At) })
}

func within(at, from, to time.Time) bool { return !at.Before(from) && at.Before(to) }

// RunsBy sums the runs uploaded in [from, to) by the key group returns;
// group returning "" leaves a Counted out.
func (t *Truth) RunsBy(from, to time.Time, group func(c *Counted) string) map[string]uint64 {
	out := map[string]uint64{}
	for i := range t.Counted {
		c := &t.Counted[i]
		if within(c.At, from, to) {
			if k := group(c); k != "" {
				out[k] += c.Runs
			}
		}
	}
	return out
}

// Runs returns the runs uploaded in [from, to) per (path, exit code).
func (t *Truth) Runs(from, to time.Time) map[Key]uint64 {
	out := map[Key]uint64{}
	for _, c := range t.Counted {
		if within(c.At, from, to) {
			out[Key{c.Path, c.ExitCode}] += c.Runs
		}
	}
	return out
}

// RunsPerCommand returns the runs uploaded in [from, to) per command path.
func (t *Truth) RunsPerCommand(from, to time.Time) map[string]uint64 {
	return t.RunsBy(from, to, func(c *Counted) string { return c.Path })
}

// FailingPerCommand returns the runs with a non-zero exit code uploaded in
// [from, to) per command path.
func (t *Truth) FailingPerCommand(from, to time.Time) map[string]uint64 {
	return t.RunsBy(from, to, func(c *Counted) string {
		if c.ExitCode == 0 {
			return ""
		}
		return c.Path
	})
}

// RunsPerExitCode returns the runs uploaded in [from, to) per exit code.
func (t *Truth) RunsPerExitCode(from, to time.Time) map[int]uint64 {
	out := map[int]uint64{}
	for _, c := range t.Counted {
		if within(c.At, from, to) {
			out[c.ExitCode] += c.Runs
		}
	}
	return out
}

// Total returns all runs uploaded in [from, to).
func (t *Truth) Total(from, to time.Time) uint64 {
	var n uint64
	for _, c := range t.Counted {
		if within(c.At, from, to) {
			n += c.Runs
		}
	}
	return n
}

// IDs returns the installation ids that uploaded counters in [from, to),
// each with its latest upload in the range.
func (t *Truth) IDs(from, to time.Time) map[string]Seen {
	out := map[string]Seen{}
	for _, s := range t.Seen {
		if within(s.At, from, to) {
			out[s.ID] = s // sorted by time: the last one stays
		}
	}
	return out
}

// Installs returns how many installations (distinct ids) uploaded counters
// in [from, to). A reset gives an install a new id, so it counts twice in
// a range that holds uploads from before and after it.
func (t *Truth) Installs(from, to time.Time) int { return len(t.IDs(from, to)) }

// InstallsByVersion counts the installs of [from, to) by the cli_version
// of their latest upload in it.
func (t *Truth) InstallsByVersion(from, to time.Time) map[string]int {
	out := map[string]int{}
	for _, s := range t.IDs(from, to) {
		out[s.Version]++
	}
	return out
}

// InstallsByOS counts the installs of [from, to) by the operating system
// of their latest upload in it.
func (t *Truth) InstallsByOS(from, to time.Time) map[string]int {
	out := map[string]int{}
	for _, s := range t.IDs(from, to) {
		out[s.OS]++
	}
	return out
}

// Misattributed returns, of the runs uploaded in [from, to) with version
// v ("" for all versions), how many ran on another version, and all.
func (t *Truth) Misattributed(from, to time.Time, v string) (other, all uint64) {
	for _, c := range t.Counted {
		if within(c.At, from, to) && (v == "" || c.Version == v) {
			other += c.OtherVersion
			all += c.Runs
		}
	}
	return other, all
}

// InstallsPerCommand counts, per command path, the installs (distinct ids)
// that uploaded runs of it in [from, to).
func (t *Truth) InstallsPerCommand(from, to time.Time) map[string]int {
	ids := map[string]map[string]bool{}
	for _, c := range t.Counted {
		if within(c.At, from, to) {
			if ids[c.Path] == nil {
				ids[c.Path] = map[string]bool{}
			}
			ids[c.Path][c.ID] = true
		}
	}
	out := map[string]int{}
	for p, s := range ids {
		out[p] = len(s)
	}
	return out
}
