package pgsink_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/internal/simweek"
	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/receiver"
)

// Fleet size of the power and false-positive measurement (docs/deploy.md,
// Release health, quotes its figures).
const (
	fleetInstalls    = 50
	fleetNewInstalls = 10
	fleetDays        = 10
	fleetBusy        = 3 // scripts in every other fleet
	fleetsPerCase    = 50
)

// noBounds lifts the sink's daily bounds (bounds.go): the fleets hold one
// busy script's runs exactly, and their new installs arrive from one
// (absent) address; the bounds are tested on their own.
func noBounds(c *pgsink.Config) { c.MaxDailyRuns, c.NewInstallsPerSource = -1, -1 }

// emptyTables empties what a fleet writes, retrying while the sink's
// background prune of a new day holds locks the TRUNCATE deadlocks with.
func emptyTables(t *testing.T, c *pgx.Conn) {
	t.Helper()
	var err error
	for range 20 {
		_, err = c.Exec(context.Background(), `TRUNCATE install_state, usage_daily, active_daily, command_daily, install_day, source_day CASCADE`)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "40P01" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// writeFleet writes a fleet's uploads through the sink's Write, the way
// the handler hands them over (allow-listed counters, sorted), keeping of
// each install's uploads only the last one of each UTC day and version:
// cumulative counts make the increments it writes, per day and version,
// exactly those of all the uploads, and the latest upload of each day is
// among them. The handler's own path is checked by
// TestReleasePanelsAgainstTruth.
func writeFleet(t *testing.T, s interface {
	Write(context.Context, *sink.Upload) error
}, w *simweek.Week, allow map[string]bool) int {
	type group struct{ id, day, version string }
	last := map[group]int{}
	for i, u := range w.Uploads {
		last[group{u.Payload.ID, u.At.UTC().Format(time.DateOnly), u.Payload.CLIVersion}] = i
	}
	perID := map[string][]int{}
	for _, i := range last {
		id := w.Uploads[i].Payload.ID
		perID[id] = append(perID[id], i)
	}
	ids := make(chan []int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idx := range ids {
				sort.Ints(idx) // in time order
				for _, i := range idx {
					u := &w.Uploads[i]
					up := &sink.Upload{ID: u.Payload.ID, CLIVersion: u.Payload.CLIVersion, OS: u.Payload.OperatingSystem, Received: u.At}
					for path, codes := range u.Payload.MetricPoints {
						if !allow[path] {
							continue
						}
						for code, p := range codes {
							up.Counters = append(up.Counters, sink.Counter{Path: path, Words: strings.Fields(path)[1:], ExitCode: code, Count: p.CumulativeCount})
						}
					}
					slices.SortFunc(up.Counters, func(a, b sink.Counter) int {
						if c := strings.Compare(a.Path, b.Path); c != 0 {
							return c
						}
						return a.ExitCode - b.ExitCode
					})
					if err := s.Write(context.Background(), up); err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				}
			}
		}()
	}
	for _, idx := range perID {
		ids <- idx
	}
	close(ids)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return len(last)
}

// TestRegressionsPowerAndFalsePositives measures the regression panel over
// many simulated fleets, each written through the real sink into one
// PostgreSQL (tables emptied in between) and queried with the panel's
// SQL: how often a clean fleet lists anything (false positives), and how
// often a fleet whose newest release raises RegressedCommand's failure
// rate lists it (power). Every other fleet has busy scripts making most
// of the runs. Each answer must also equal the truth. On the clean fleets
// it also runs the panel's query with the runs test alone, to measure
// what the install-day test guards against; and the mirror, how often
// "Improvements" lists a clean fleet's command or finds ImprovedCommand's
// fix.
func TestRegressionsPowerAndFalsePositives(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 100 fleets")
	}
	r := newRig(t, noBounds)
	c := r.conn(t)
	panels, _ := readDashboard(t)
	var sql, improvementsSQL string
	for _, p := range panels {
		switch p.Title {
		case "Regressions on the newest version":
			sql = p.Targets[0].RawSQL
		case "Improvements on the newest version":
			improvementsSQL = p.Targets[0].RawSQL
		}
	}
	vars := dashboardVars(t)
	// The same query with the runs test alone: the install-day test's
	// p-value dropped from the larger of the two.
	const bothTests = "greatest(pace_fisher_greater(nf, nr - nf, pf, pr - pf), pace_fisher_greater(nfi, ni - nfi, pfi, pi - pfi))"
	if !strings.Contains(sql, bothTests) {
		t.Fatalf("the panel's query no longer takes the larger of the runs and install-day tests as %q", bothTests)
	}
	runsOnlySQL := strings.Replace(sql, bothTests, "pace_fisher_greater(nf, nr - nf, pf, pr - pf)", 1)
	var runsOnly, runsOnlyBusy int
	var improvedListed, improvedFound int // clean fleets listing any improvement; injected ones finding ImprovedCommand
	allow := map[string]bool{}
	for _, p := range receiver.Commands() {
		allow[p] = true
	}
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	type outcome struct{ fleets, listed, found, busyFleets, busyListed, busyFound int }
	var clean, injected outcome
	var busyShare []float64
	writes := 0
	// Fleets are simulated, and their truth computed, one ahead of the
	// one being written and queried, on the other core.
	type fleet struct {
		i        int
		w        *simweek.Week
		clean    bool
		busy     int
		want     [][]cell
		wantCols []string
		wantImp  [][]cell
	}
	fleets := make(chan fleet, 2)
	go func() {
		defer close(fleets)
		for i := range 2 * fleetsPerCase {
			f := fleet{i: i, clean: i%2 == 0}
			if (i/2)%2 == 1 {
				f.busy = fleetBusy
			}
			f.w = simweek.Simulate(simweek.Config{Seed: 7000 + uint64(i), Start: start, Days: fleetDays,
				Installs: fleetInstalls, NewInstalls: fleetNewInstalls, Clean: f.clean, Busy: f.busy})
			tr := &releaseTruth{tr: f.w.Truth, from: f.w.Start, to: f.w.End, vars: vars}
			f.wantCols, f.want = tr.want("Regressions on the newest version", nil)
			_, f.wantImp = tr.want("Improvements on the newest version", nil)
			fleets <- f
		}
	}()
	for f := range fleets {
		i, w, isClean, busy := f.i, f.w, f.clean, f.busy
		emptyTables(t, c)
		writes += writeFleet(t, r.sink, w, allow)
		cols, got := table(t, c, withVars(grafanaSQL(sql, w.Start, w.End, nil), vars))
		if !slices.Equal(cols, f.wantCols) || !sameRows(got, f.want, 1e-6) {
			t.Fatalf("fleet %d: regressions\n got  %v\n want %v", i, got, f.want)
		}
		_, imp := table(t, c, withVars(grafanaSQL(improvementsSQL, w.Start, w.End, nil), vars))
		if !sameRows(imp, f.wantImp, 1e-6) {
			t.Fatalf("fleet %d: improvements\n got  %v\n want %v", i, imp, f.wantImp)
		}
		if isClean && len(imp) > 0 {
			improvedListed++
		}
		if !isClean && slices.ContainsFunc(imp, func(row []cell) bool { return row[0].s == simweek.ImprovedCommand }) {
			improvedFound++
		}
		if busy > 0 {
			busyShare = append(busyShare, shareOfTop(w, busy))
		}
		if isClean {
			if _, r := table(t, c, withVars(grafanaSQL(runsOnlySQL, w.Start, w.End, nil), vars)); len(r) > 0 {
				runsOnly++
				if busy > 0 {
					runsOnlyBusy++
				}
			}
		}
		o := &injected
		if isClean {
			o = &clean
		}
		o.fleets++
		listed := len(got) > 0
		found := slices.ContainsFunc(got, func(row []cell) bool { return row[0].s == simweek.RegressedCommand })
		if listed {
			o.listed++
		}
		if found {
			o.found++
		}
		if busy > 0 {
			o.busyFleets++
			if listed {
				o.busyListed++
			}
			if found {
				o.busyFound++
			}
		}
	}
	slices.Sort(busyShare)
	fp := float64(clean.listed) / float64(clean.fleets)
	power := float64(injected.found) / float64(injected.fleets)
	t.Logf("%d fleets of %d+%d installs over %d days (%d writes); in the %d fleets with %d busy scripts, these make a median %.0f %% of the runs",
		clean.fleets+injected.fleets, fleetInstalls, fleetNewInstalls, fleetDays, writes, clean.busyFleets+injected.busyFleets, fleetBusy, 100*busyShare[len(busyShare)/2])
	t.Logf("false positives: %d of %d clean fleets list a regression (%.1f %%; %d of %d with busy scripts)", clean.listed, clean.fleets, 100*fp, clean.busyListed, clean.busyFleets)
	t.Logf("power: %d of %d fleets find the injected regression of %s (%.1f %%; %d of %d with busy scripts)", injected.found, injected.fleets, simweek.RegressedCommand, 100*power, injected.busyFound, injected.busyFleets)
	t.Logf("improvements: %d of %d clean fleets list one; %d of %d fleets find the fix of %s", improvedListed, clean.fleets, improvedFound, injected.fleets, simweek.ImprovedCommand)
	t.Logf("with the runs test alone: %d of %d clean fleets list a regression (%d of %d with busy scripts)", runsOnly, clean.fleets, runsOnlyBusy, clean.busyFleets)
	if fp > 0.05 {
		t.Errorf("false positives %.1f %%, target at most 5 %%", 100*fp)
	}
	if busyFP := float64(clean.busyListed) / float64(clean.busyFleets); busyFP > 0.05 {
		t.Errorf("false positives with busy scripts %.1f %% (%d of %d), target at most 5 %%", 100*busyFP, clean.busyListed, clean.busyFleets)
	}
	if impFP := float64(improvedListed) / float64(clean.fleets); impFP > 0.05 {
		t.Errorf("clean fleets listing an improvement %.1f %%, target at most 5 %%", 100*impFP)
	}
	if runsOnlyBusy <= clean.busyListed {
		t.Errorf("with busy scripts the runs test alone lists %d clean fleets, the panel's %d: the install-day test should be what keeps scripts from faking regressions", runsOnlyBusy, clean.busyListed)
	}
	if power < 0.95 {
		t.Errorf("power %.1f %%, target at least 95 %%", 100*power)
	}
}

// shareOfTop returns the share of the week's runs made by its n busiest
// installs.
func shareOfTop(w *simweek.Week, n int) float64 {
	per := map[string]uint64{}
	var total uint64
	for _, c := range w.Truth.Counted {
		per[c.ID] += c.Runs
		total += c.Runs
	}
	runs := make([]uint64, 0, len(per))
	for _, v := range per {
		runs = append(runs, v)
	}
	slices.Sort(runs)
	var top uint64
	for _, v := range runs[max(0, len(runs)-n):] {
		top += v
	}
	return float64(top) / float64(total)
}
