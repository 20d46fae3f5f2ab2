// Package simweek simulates a fleet of pace installations over days, the
// way their daemons upload, and keeps the ground truth that every store and
// dashboard fed with those uploads must show.
//
// It is deterministic: the same Config (Seed included) gives the same
// uploads, byte for byte, and the same truth. The truth is built from the
// simulated runs, not from the uploads' cumulative counts: each run is
// counted once, at the time of the upload that first carried it ("runs are
// counted when uploaded"), so a laptop offline for days shows its runs on
// the day it comes back, and runs lost to `pace telemetry reset` before
// they were uploaded are in no figure.
//
// The fleet holds every case the dashboards must get right:
//   - always-on machines (CI runners, servers) uploading about hourly;
//   - weekday laptops in several time zones, off at night and at weekends,
//     their pending runs uploaded when they boot;
//   - laptops offline for 2 to 4 days, whose daemons retry with capped
//     exponential backoff and deliver everything when back;
//   - occasional users, with a handful of runs on one or two days;
//   - installs new during the week, which upload empty counts first, as
//     PACE's original CLI does;
//   - upgrades (a new cli_version carrying the old counts), resets (a new
//     id and no counts), failing runs with several exit codes, and runs of
//     a command path the receiver does not know, which no figure counts;
//   - installs with history before the week, uploaded before it starts;
//   - two releases inside the period, which installs move to at their own
//     pace: the first adds a new failing exit code to one command
//     (NewCodeCommand), the second, the newest, raises another command's
//     failure rate (RegressedCommand) and fixes a bug of a third
//     (ImprovedCommand), unless Config.Clean; a developer
//     build and a pre-release on a few installs; an old version whose
//     string order is not its semantic-version order;
//   - a command only two installs run (RareCommand), and allow-listed
//     commands nobody runs (UnusedCommand is one);
//   - optionally (Config.Busy) scripts that make most of the runs.
package simweek

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pace-cli/pace/function/payload"
)

// The daemon's schedule (internal/daemon), as the simulation follows it.
const (
	Debounce    = 2 * time.Second
	Interval    = time.Hour
	BackoffBase = 30 * time.Second
	BackoffMax  = time.Hour
)

// UnknownPath is a well-formed command path no allow-list holds; some runs
// use it, and the receiver must drop them.
const UnknownPath = "pace not-a-command"

// DefaultCommands are the allow-listed paths the fleet runs, most used
// first.
var DefaultCommands = []string{
	"pace list tables", "pace get data-policy", "pace upsert data-policy",
	"pace evaluate data-policy", "pace list data-policies", "pace list schemas",
	"pace transpile data-policy", "pace apply data-policy", "pace version",
	"pace list processing-platforms", "pace telemetry status", "pace",
}

// Versions are the cli_versions of the fleet, oldest first (semantic
// order; "v1.9.3" sorts after the others as a string): installs start on
// one of the first three; the last two are released inside the period.
var Versions = []string{"v1.9.3", "v1.23.1", "v1.24.0", "v1.25.0", "v1.26.0"}

// DevVersion and PreRelease run on a few installs each, and are never the
// newest version.
const (
	DevVersion = "v0.0.0-dev"
	PreRelease = "v1.27.0-rc.1"
)

// The release-health cases.
const (
	// RegressedCommand fails RegressionPoints percentage points more
	// often on the newest version, unless Config.Clean.
	RegressedCommand = "pace get data-policy"
	RegressionPoints = 40
	// NewCodeCommand exits with NewExitCode, which it never did before,
	// in NewCodePercent % of its runs from the first release in the
	// period on, unless Config.Clean.
	NewCodeCommand = "pace apply data-policy"
	NewExitCode    = 4
	NewCodePercent = 10
	// ImprovedCommand fails ImprovementPoints percentage points more often
	// on every release before the newest, which fixes it, unless
	// Config.Clean.
	ImprovedCommand   = "pace upsert data-policy"
	ImprovementPoints = 25
	// RareCommand is run by exactly two installs.
	RareCommand = "pace delete data-policy"
	// UnusedCommand is allow-listed and never run.
	UnusedCommand = "pace completion zsh"
	// CrashedCommand crashes (exit code payload.ExitPanic) at CrashSite in
	// CrashPercent % of its runs on the newest version, with Config.Crash
	// and not Config.Clean.
	CrashedCommand = "pace list tables"
	CrashSite      = "internal/platform.(*Postgres).Tables:+3 internal/cli.newListTablesCmd.func1:+9"
	CrashPercent   = 30
)

// Config sets the size and shape of a simulation. Zero fields take their
// defaults.
type Config struct {
	Seed        uint64
	Start       time.Time // first day; truncated to a UTC midnight
	Days        int       // default 7
	Installs    int       // present before the week starts; default 40
	NewInstalls int       // appearing during the week; default Installs/4
	Commands    []string  // allow-listed paths the runs use; default DefaultCommands
	// Clean leaves out the releases' injected failures (RegressedCommand,
	// NewCodeCommand, ImprovedCommand): the newest version fails as often
	// as the previous.
	Clean bool
	// OldDaemon simulates the daemon before it uploaded, on seeing the
	// file's cli_version change, the counts it read before: the old
	// version's runs since the last upload then count for the new one.
	OldDaemon bool
	// Crash makes the newest release crash CrashedCommand at CrashSite
	// (unless Clean); the uploads then carry crash sites, as the daemon
	// sends them.
	Crash bool
	// Busy adds that many always-on scripts running about 40 commands an
	// hour, each with its own failure rate: a few installs making most of
	// the runs.
	Busy int
}

// Release is a version released inside the period.
type Release struct {
	Version string
	At      time.Time
}

// Upload is one upload the fleet sends: the body, and when the receiver
// gets it. At has millisecond precision and never falls on a whole second,
// so no sample lies on the boundary of a whole-second range, where stores
// differ on which side it belongs to.
type Upload struct {
	At      time.Time
	Install int // the simulated machine; not its id, which a reset changes
	Payload payload.Payload
}

// Body returns the upload's JSON body, as the daemon sends it.
func (u *Upload) Body() []byte {
	b, err := u.Payload.Marshal()
	if err != nil {
		panic(err) // a Payload of maps and strings always marshals
	}
	return b
}

// Week is the outcome of a simulation.
type Week struct {
	Start, End time.Time // [Start, End) holds the simulated days
	Uploads    []Upload  // every upload, sorted by At; some before Start (history)
	Truth      *Truth
	Releases   []Release // the last two Versions, released inside the period
	// Cases counts the installs of each case, to show the fleet's shape.
	Cases map[string]int
}

// Day returns the bounds [from, to) of day i (0-based) of the week.
func (w *Week) Day(i int) (from, to time.Time) {
	from = w.Start.AddDate(0, 0, i)
	return from, from.AddDate(0, 0, 1)
}

// Days is the number of simulated days.
func (w *Week) Days() int { return int(w.End.Sub(w.Start) / (24 * time.Hour)) }

// Simulate runs the fleet. It panics on a Config it cannot use (a command
// path that is not well-formed), which is a bug of the caller.
func Simulate(cfg Config) *Week {
	if cfg.Days <= 0 {
		cfg.Days = 7
	}
	if cfg.Installs <= 0 {
		cfg.Installs = 40
	}
	if cfg.NewInstalls <= 0 {
		cfg.NewInstalls = max(cfg.Installs/4, 1)
	}
	if len(cfg.Commands) == 0 {
		cfg.Commands = DefaultCommands
	}
	for _, c := range cfg.Commands {
		if err := payload.ValidCommandPath(c); err != nil {
			panic(fmt.Sprintf("simweek: %v", err))
		}
	}
	start := cfg.Start.UTC().Truncate(24 * time.Hour)
	w := &Week{Start: start, End: start.AddDate(0, 0, cfg.Days), Truth: &Truth{}, Cases: map[string]int{}}
	period := w.End.Sub(w.Start)
	w.Releases = []Release{
		{Versions[len(Versions)-2], w.Start.Add(period / 7).Add(10 * time.Hour)},
		{Versions[len(Versions)-1], w.Start.Add(period * 3 / 7).Add(14 * time.Hour)},
	}
	n := cfg.Installs + cfg.NewInstalls
	installs := make([]*install, 0, n+cfg.Busy)
	for i := range n + cfg.Busy {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		in := newInstall(rng, i, i >= cfg.Installs && i < n, i >= n, w, cfg)
		installs = append(installs, in)
	}
	rare := 0
	for _, in := range installs {
		if rare < 2 && in.rare() {
			in.cases = append(in.cases, "runs "+RareCommand)
			rare++
		}
		for _, c := range in.cases {
			w.Cases[c]++
		}
		in.run(w)
	}
	slices.SortStableFunc(w.Uploads, func(a, b Upload) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Install, b.Install))
	})
	w.Truth.sort()
	return w
}

// span is a time interval [from, to).
type span struct{ from, to time.Time }

// event is something that happens on a machine: a run, an upgrade, a reset.
type event struct {
	at      time.Time
	kind    int // evRun, evUpgrade, evReset
	path    string
	code    int
	version string // evUpgrade: the new version; evRun: the version it ran on
}

const (
	evRun = iota
	evUpgrade
	evReset
)

// install is one simulated machine with its daemon.
type install struct {
	index    int
	rng      *rand.Rand
	cases    []string
	os       string
	created  time.Time
	on       []span // machine (and daemon) running, sorted
	offline  []span // network down, sorted
	events   []event
	start    time.Time // when the simulation of this machine begins
	end      time.Time
	history  bool // has counts from before the week, uploaded once before start
	commands []string
	version  string // at the start
	clean    bool
	crash    bool    // the newest version crashes CrashedCommand
	fail     float64 // share of runs failing
	// oldDaemon: no upload of the old version's counts first.
	oldDaemon bool
}

// rare makes every fourth run of an install that runs, keeps one id (no
// reset) and is on several times, a run of RareCommand, and reports
// whether it did.
func (in *install) rare() bool {
	runs := 0
	for _, e := range in.events {
		if e.kind == evReset {
			return false
		}
		if e.kind == evRun {
			runs++
		}
	}
	if runs < 12 {
		return false
	}
	k := 0
	for i := range in.events {
		if e := &in.events[i]; e.kind == evRun && e.path != UnknownPath {
			if k%4 == 3 {
				e.path = RareCommand
			}
			k++
		}
	}
	return true
}

var timeZones = []float64{-8, -5, -3, 0, 1, 2, 5.5, 8, 9} // hours from UTC

func newInstall(rng *rand.Rand, index int, isNew, busy bool, w *Week, cfg Config) *install {
	weekStart, weekEnd, commands := w.Start, w.End, cfg.Commands
	in := &install{index: index, rng: rng, end: weekEnd, commands: commands, clean: cfg.Clean, crash: cfg.Crash, oldDaemon: cfg.OldDaemon}
	switch r := rng.Float64(); {
	case r < 0.6:
		in.os = "linux"
	case r < 0.85:
		in.os = "darwin"
	default:
		in.os = "windows"
	}
	if isNew {
		in.created = weekStart.Add(time.Duration(rng.Float64() * float64(weekEnd.Sub(weekStart)) * 0.85))
		in.cases = append(in.cases, "new during the week")
	} else {
		in.created = weekStart.Add(-time.Duration(2+rng.IntN(3)) * 24 * time.Hour)
		in.history = true
	}
	in.start = in.created
	// Each machine's own mix of commands and failures.
	weights := make([]float64, len(commands))
	for i := range weights {
		weights[i] = rng.Float64() * 1 / float64(i+1)
	}
	in.fail = 0.05 + rng.Float64()*0.25
	// The version it starts on: mostly one of the older releases, a few a
	// developer build or a pre-release, which never upgrade.
	upgrades := true
	switch r := rng.Float64(); {
	case r < 0.04:
		in.version, upgrades = DevVersion, false
		in.cases = append(in.cases, "developer build")
	case r < 0.08:
		in.version, upgrades = PreRelease, false
		in.cases = append(in.cases, "pre-release")
	case r < 0.15:
		in.version = Versions[0]
	default:
		in.version = Versions[1+rng.IntN(2)]
	}

	var rate float64 // runs per hour while on
	switch r := rng.Float64(); {
	case busy:
		in.cases = append(in.cases, "busy script")
		in.on = []span{{in.created, weekEnd}}
		rate = 40
		in.fail = 0.05 + rng.Float64()*0.5
	case r < 0.2:
		in.cases = append(in.cases, "always on")
		in.on = []span{{in.created, weekEnd}}
		rate = 0.5 + rng.Float64()*3
	case r < 0.8:
		tz := timeZones[rng.IntN(len(timeZones))]
		in.cases = append(in.cases, fmt.Sprintf("weekday laptop UTC%+g", tz))
		in.on = workdays(rng, tz, in.created, weekEnd)
		rate = 1 + rng.Float64()*4
		if rng.Float64() < 0.3 {
			in.cases = append(in.cases, "offline 2-4 days")
			from := weekStart.Add(time.Duration(rng.IntN(3*24)) * time.Hour)
			in.offline = []span{{from, from.Add(time.Duration(48+rng.IntN(48)) * time.Hour)}}
		}
	default:
		in.cases = append(in.cases, "occasional")
		days := 1 + rng.IntN(2)
		for range days {
			d := weekStart.AddDate(0, 0, rng.IntN(int(weekEnd.Sub(weekStart)/(24*time.Hour))))
			from := d.Add(time.Duration(rng.IntN(20*60)) * time.Minute)
			if from.Before(in.created) {
				continue
			}
			in.on = append(in.on, span{from, from.Add(time.Duration(20+rng.IntN(60)) * time.Minute)})
		}
		slices.SortFunc(in.on, func(a, b span) int { return a.from.Compare(b.from) })
		in.on = merge(in.on)
		rate = 3 + rng.Float64()*5
	}
	// Runs while the machine is on.
	for _, s := range in.on {
		t := s.from
		for {
			t = t.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Hour)))
			if !t.Before(s.to) {
				break
			}
			// The exit code is drawn when the run is played, as it
			// depends on the version then installed.
			e := event{at: t, kind: evRun, path: pick(rng, commands, weights)}
			if rng.Float64() < 0.01 {
				e.path = UnknownPath
			}
			in.events = append(in.events, e)
		}
	}
	// Upgrades happen while the machine is on, some time after a release
	// (a laptop that is off gets it when next on); most installs take
	// each release.
	if upgrades {
		for _, r := range w.Releases {
			if rng.Float64() < 0.75 {
				if at, ok := in.onTimeAfter(r.At.Add(time.Duration(rng.ExpFloat64() * float64(18*time.Hour)))); ok {
					in.cases = append(in.cases, "upgrade")
					in.events = append(in.events, event{at: at, kind: evUpgrade, version: r.Version})
				}
			}
		}
	}
	// Resets happen while the machine is on.
	if len(in.on) > 0 && rng.Float64() < 0.08 {
		in.cases = append(in.cases, "telemetry reset")
		in.events = append(in.events, event{at: in.randomOnTime(), kind: evReset})
	}
	slices.SortStableFunc(in.events, func(a, b event) int { return a.at.Compare(b.at) })
	return in
}

// workdays returns a laptop's on-times: Monday to Friday, about 08:30 to
// 18:00 in its time zone, with a lunch break.
func workdays(rng *rand.Rand, tz float64, from, to time.Time) []span {
	offset := time.Duration(tz * float64(time.Hour))
	var on []span
	for d := from.Truncate(24*time.Hour).AddDate(0, 0, -1); d.Before(to); d = d.AddDate(0, 0, 1) {
		local := d // midnight local = d - offset in UTC
		if wd := local.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		base := local.Add(-offset)
		am := base.Add(8*time.Hour + time.Duration(rng.IntN(90))*time.Minute)
		lunch := base.Add(12*time.Hour + time.Duration(rng.IntN(60))*time.Minute)
		pm := lunch.Add(time.Duration(30+rng.IntN(40)) * time.Minute)
		off := base.Add(17*time.Hour + time.Duration(rng.IntN(120))*time.Minute)
		for _, s := range []span{{am, lunch}, {pm, off}} {
			s.from, s.to = later(s.from, from), earlier(s.to, to)
			if s.from.Before(s.to) {
				on = append(on, s)
			}
		}
	}
	return on
}

func merge(spans []span) []span {
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && !s.from.After(out[n-1].to) {
			out[n-1].to = later(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	return out
}

// onTimeAfter returns t if the machine is on then, else the start of its
// next on-time, if any.
func (in *install) onTimeAfter(t time.Time) (time.Time, bool) {
	if on, next := isOn(in.on, t); !on {
		if next.IsZero() {
			return time.Time{}, false
		}
		t = next.Add(time.Minute)
	}
	return t, true
}

// failure returns the exit code of a run of path on version: 0 or a
// failing code, with the releases' injected failures.
func (in *install) failure(path, version string) int {
	newest := version == Versions[len(Versions)-1]
	if in.crash && !in.clean && path == CrashedCommand && newest && in.rng.Float64() < CrashPercent/100.0 {
		return payload.ExitPanic
	}
	if !in.clean && path == RegressedCommand && newest && in.rng.Float64() < RegressionPoints/100.0 {
		return 1
	}
	if !in.clean && path == ImprovedCommand && !newest && slices.Contains(Versions, version) && in.rng.Float64() < ImprovementPoints/100.0 {
		return 1
	}
	if !in.clean && path == NewCodeCommand && (newest || version == Versions[len(Versions)-2]) && in.rng.Float64() < NewCodePercent/100.0 {
		return NewExitCode
	}
	if in.rng.Float64() < in.fail {
		code := pickCode(in.rng)
		if path == NewCodeCommand && code == NewExitCode {
			code = 1 // never before the release
		}
		return code
	}
	return 0
}

func (in *install) randomOnTime() time.Time {
	s := in.on[in.rng.IntN(len(in.on))]
	return s.from.Add(time.Duration(in.rng.Float64() * float64(s.to.Sub(s.from))))
}

func pick(rng *rand.Rand, items []string, weights []float64) string {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	r := rng.Float64() * total
	for i, w := range weights {
		if r < w {
			return items[i]
		}
		r -= w
	}
	return items[len(items)-1]
}

// pickCode returns a failing exit code, 1 most often (pace's own codes).
func pickCode(rng *rand.Rand) int {
	switch r := rng.Float64(); {
	case r < 0.6:
		return 1
	case r < 0.8:
		return 2
	case r < 0.93:
		return 3
	case r < 0.97:
		return 4
	default:
		return 5
	}
}

// isOn reports whether t is inside one of spans, and if not, the start of
// the next one (or the zero time).
func isOn(spans []span, t time.Time) (bool, time.Time) {
	for _, s := range spans {
		if t.Before(s.from) {
			return false, s.from
		}
		if t.Before(s.to) {
			return true, time.Time{}
		}
	}
	return false, time.Time{}
}

// run plays the machine's events and its daemon's uploads into w.
func (in *install) run(w *Week) {
	counts := map[Key]uint64{}
	crashes := map[Key]uint64{} // per path, at CrashSite (ExitCode unused)
	var unsent []event          // runs not yet uploaded
	id := newID(in.rng)
	version := in.version
	installed := version
	var (
		pending     bool
		changedAt   time.Time
		lastSuccess time.Time
		retryAt     time.Time
		failures    int
	)
	// held is what the daemon read before the file's cli_version changed:
	// it uploads that first (internal/daemon), so that the old version's
	// runs since the last upload count for it.
	var held *struct {
		version string
		counts  map[Key]uint64
		crashes map[Key]uint64
		n       int // of unsent
	}
	send := func(at time.Time, version string, counts, crashes map[Key]uint64, runs []event) {
		p := payload.Payload{MetricPoints: map[string]map[int]payload.Point{}, CLIVersion: version, OperatingSystem: in.os, ID: id}
		for k, n := range counts {
			if p.MetricPoints[k.Path] == nil {
				p.MetricPoints[k.Path] = map[int]payload.Point{}
			}
			p.MetricPoints[k.Path][k.ExitCode] = payload.Point{CumulativeCount: n}
		}
		for k, n := range crashes {
			if p.CrashSites == nil {
				p.CrashSites = map[string]map[string]payload.Point{}
			}
			p.CrashSites[k.Path] = map[string]payload.Point{CrashSite: {CumulativeCount: n}}
		}
		w.Uploads = append(w.Uploads, Upload{At: at, Install: in.index, Payload: p})
		w.Truth.upload(at, id, version, in.os, runs, counts)
	}
	emit := func(at time.Time) {
		if held != nil {
			// Two requests of one attempt, a millisecond apart.
			send(at, held.version, held.counts, held.crashes, unsent[:held.n])
			unsent = unsent[held.n:]
			held = nil
			if at = at.Add(time.Millisecond); at.Nanosecond() == 0 {
				at = at.Add(time.Millisecond)
			}
		}
		send(at, version, counts, crashes, unsent)
		unsent = unsent[:0]
	}
	if in.history {
		// Counts from before the simulated days, uploaded once a day or two
		// before the week starts.
		for range 3 + in.rng.IntN(20) {
			k := Key{in.commands[in.rng.IntN(len(in.commands))], 0}
			if in.rng.Float64() < 0.15 {
				k.ExitCode = pickCode(in.rng)
				if k.Path == NewCodeCommand && k.ExitCode == NewExitCode {
					k.ExitCode = 1 // never before the release
				}
			}
			counts[k]++
			unsent = append(unsent, event{kind: evRun, path: k.Path, code: k.ExitCode, version: version})
		}
		at := msTime(w.Start.Add(-time.Duration(12+in.rng.IntN(36))*time.Hour), in.rng)
		emit(at)
		lastSuccess = at
	} else {
		// A new install uploads its empty counts first, as PACE's
		// original CLI does.
		at := msTime(in.created, in.rng)
		emit(at)
		lastSuccess = at
	}
	i := 0
	for {
		next := in.end
		if i < len(in.events) {
			next = in.events[i].at
		}
		due := in.end
		if pending {
			due = later(later(changedAt.Add(Debounce), lastSuccess.Add(Interval)), retryAt)
			if on, nextOn := isOn(in.on, due); !on {
				if nextOn.IsZero() {
					due = in.end
				} else {
					due = nextOn.Add(time.Duration(20+in.rng.IntN(40)) * time.Second) // boot
				}
			}
			due = msTime(due, in.rng)
		}
		if !next.Before(in.end) && !due.Before(in.end) {
			return
		}
		if next.Before(due) || next.Equal(due) {
			e := in.events[i]
			i++
			switch e.kind {
			case evRun:
				if version != installed && held == nil && len(unsent) > 0 && !in.oldDaemon {
					held = &struct {
						version string
						counts  map[Key]uint64
						crashes map[Key]uint64
						n       int
					}{version, maps.Clone(counts), maps.Clone(crashes), len(unsent)}
				}
				version = installed // the CLI writes its own version with each count
				e.code, e.version = in.failure(e.path, installed), installed
				counts[Key{e.path, e.code}]++
				if e.code == payload.ExitPanic {
					crashes[Key{Path: e.path}]++
				}
				unsent = append(unsent, e)
			case evUpgrade:
				installed = e.version
				continue // the file changes at the next run
			case evReset:
				held = nil
				clear(counts)
				clear(crashes)
				unsent = unsent[:0] // lost: never uploaded
				id = newID(in.rng)
			}
			pending, changedAt = true, e.at
			continue
		}
		if on, _ := isOn(in.offline, due); on {
			failures++
			d := BackoffMax
			if failures < 31 {
				d = min(BackoffBase<<(failures-1), BackoffMax)
			}
			retryAt = due.Add(d - time.Duration(in.rng.Float64()*float64(d/2)))
			continue
		}
		emit(due)
		pending, lastSuccess, retryAt, failures = false, due, time.Time{}, 0
	}
}

// msTime rounds t to a millisecond that is not a whole second.
func msTime(t time.Time, rng *rand.Rand) time.Time {
	t = t.Truncate(time.Millisecond)
	if t.Nanosecond() == 0 {
		t = t.Add(time.Duration(1+rng.IntN(998)) * time.Millisecond)
	}
	return t
}

func newID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
