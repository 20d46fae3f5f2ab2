package pgsink

// applySet applies a batch (docs/postgresql.md, "Group commit") in three
// round trips, whatever its size: one statement locks (or creates) the
// batch's install rows in key order and returns their stored counts; one
// pipeline reads their day's counted runs and locks the day's rows of
// their addresses' new-install bounds; the uploads are then applied in
// Go, one after the other in batch order (an install's uploads see the
// state its earlier ones left); and one pipeline writes the result with
// one set-based statement per table over arrays (unnest), each array
// sorted by its table's key, each row written at most once, and only rows
// that change. An upload over its address's new-install bound is answered
// 429 and leaves nothing. A statement the database refuses fails the
// batch here; commitBatch then applies it one upload at a time under
// savepoints (applyEach), so that the refused upload fails alone.
//
// An install's cumulative counts are arrays in its install_state row
// (migration 12): the row the batch locks anyway is the one it rewrites,
// once per batch, instead of a row per counter.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/sink"
)

type counterKey struct {
	path string
	code int32
}

type crashKey struct{ path, site string }

// errInstallRace: another batch stored an install of this batch after
// this batch looked for it; the batch is applied again (batchWide).
var errInstallRace = errors.New("an install of the batch was stored by another batch meanwhile")

// installBatch is one install's state through a batch.
type installBatch struct {
	key      []byte
	isNew    bool // not stored before the batch, and no upload of it admitted yet
	counters map[counterKey]int64
	crashes  map[crashKey]int64
	stored   bool      // its row was there before the batch
	received time.Time // its latest upload's, and that one's day
	lastDay  string
	// Its command_daily rows of cmdDay, "version path" -> failed.
	cmdDay string
	cmds   map[string]bool
}

const dayFormat = "2006-01-02"

func (s *Sink) applySet(ctx context.Context, tx pgx.Tx, batch []*item, errs []error) error {
	var installs []*installBatch
	byKey := map[string]*installBatch{}
	for _, it := range batch {
		if it.u == nil {
			continue
		}
		ib := byKey[string(it.key)]
		if ib == nil {
			ib = &installBatch{key: it.key, counters: map[counterKey]int64{}, crashes: map[crashKey]int64{}}
			byKey[string(it.key)] = ib
			installs = append(installs, ib) // the batch is sorted by key
		}
		if it.u.Received.After(ib.received) {
			ib.received = it.u.Received
		}
		if d := it.day.Format(dayFormat); d > ib.lastDay {
			ib.lastDay = d
		}
	}
	w := newBatchWrites()
	if len(installs) > 0 {
		if err := s.readBatch(ctx, tx, batch, installs, byKey, w); err != nil {
			return err
		}
	}
	for i, it := range batch {
		if it.u == nil {
			w.health(it.at, it.outcome, it.reason, 1, 0)
			continue
		}
		if err := s.applyItem(it, byKey[string(it.key)], w); err != nil {
			errs[i] = err
			continue
		}
		w.health(it.u.Received, sink.Accepted, "", 1, 0)
	}
	b := &pgx.Batch{}
	var rejected [][]byte
	for _, ib := range installs {
		if ib.isNew {
			rejected = append(rejected, ib.key)
		}
	}
	if len(rejected) > 0 {
		b.Queue(query("delete_refused_installs"), rejected)
	}
	w.queue(b, installs)
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// readBatch locks the batch's install rows and reads what applyItem needs.
func (s *Sink) readBatch(ctx context.Context, tx pgx.Tx, batch []*item, installs []*installBatch, byKey map[string]*installBatch, w *batchWrites) error {
	keys := make([][]byte, len(installs))
	for i, ib := range installs {
		keys[i] = ib.key
	}
	// The stored installs, locked in key order (so that concurrent
	// batches cannot deadlock on them) until commit: a lock, not a new
	// version of the row, which the batch writes once, at its end.
	rows, err := tx.Query(ctx, query("lock_installs"), keys)
	if err != nil {
		return err
	}
	var key []byte
	var cp, xp, xs, mp []string
	var cc []int32
	var cn, xn []int64
	var mf []bool
	var md string
	stored := 0
	if _, err := pgx.ForEachRow(rows, []any{&key, &cp, &cc, &cn, &xp, &xs, &xn, &md, &mp, &mf}, func() error {
		ib := byKey[string(key)]
		ib.stored = true
		stored++
		if len(cc) != len(cp) || len(cn) != len(cp) || len(xs) != len(xp) || len(xn) != len(xp) || len(mf) != len(mp) {
			return fmt.Errorf("install_state: an install's arrays differ in length")
		}
		ib.cmdDay, ib.cmds = md, make(map[string]bool, len(mp))
		for i, m := range mp {
			ib.cmds[m] = mf[i]
		}
		for i, p := range cp {
			ib.counters[counterKey{p, cc[i]}] = cn[i]
		}
		for i, p := range xp {
			ib.crashes[crashKey{p, xs[i]}] = xn[i]
		}
		return nil
	}); err != nil {
		return err
	}
	// The others are new: inserted, and so locked. If another batch
	// inserted one meanwhile, the insert waited for it to commit and did
	// nothing: the batch is applied again, and then finds it stored.
	if stored < len(installs) {
		var nk [][]byte
		var nr []time.Time
		var nd []string
		for _, ib := range installs {
			if !ib.stored {
				ib.isNew = true
				nk, nr, nd = append(nk, ib.key), append(nr, ib.received), append(nd, ib.lastDay)
			}
		}
		tag, err := tx.Exec(ctx, query("insert_new_installs"), nk, nr, nd)
		if err != nil {
			return err
		}
		if int(tag.RowsAffected()) < len(nk) {
			return errInstallRace
		}
	}
	b := &pgx.Batch{}
	if s.maxDaily >= 0 {
		var dd []string
		var dk [][]byte
		seen := map[string]bool{}
		for _, it := range batch {
			if it.u == nil {
				continue
			}
			k := it.day.Format(dayFormat) + string(it.key)
			if !seen[k] {
				seen[k] = true
				dd, dk = append(dd, it.day.Format(dayFormat)), append(dk, it.key)
			}
		}
		// A batch mostly holds one day: then a plain lookup of its keys,
		// which costs a fifth of the general statement's planning.
		sql, args := query("counted_runs"), []any{dd, dk}
		if !slices.ContainsFunc(dd, func(d string) bool { return d != dd[0] }) {
			sql, args = query("counted_runs_of_day"), []any{dd[0], dk}
		}
		b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
			var day string
			var n int64
			_, err := pgx.ForEachRow(rows, []any{&day, &key, &n}, func() error {
				w.counted[day+string(key)] = n
				return nil
			})
			return err
		})
	}
	if s.newPerSource >= 0 {
		type ds struct {
			day string
			src []byte
		}
		var pairs []ds
		seen := map[string]bool{}
		for _, it := range batch {
			if it.u == nil || !byKey[string(it.key)].isNew {
				continue
			}
			k := it.day.Format(dayFormat) + string(it.src)
			if !seen[k] {
				seen[k] = true
				pairs = append(pairs, ds{it.day.Format(dayFormat), it.src})
			}
		}
		if len(pairs) > 0 {
			slices.SortFunc(pairs, func(a, b ds) int {
				return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(string(a.src), string(b.src)))
			})
			dd, dk := make([]string, len(pairs)), make([][]byte, len(pairs))
			for i, p := range pairs {
				dd[i], dk[i] = p.day, p.src
			}
			// Locks the addresses' rows (made at 0 if new) until commit.
			b.Queue(query("lock_sources"), dd, dk).Query(func(rows pgx.Rows) error {
				var day string
				var n int
				_, err := pgx.ForEachRow(rows, []any{&day, &key, &n}, func() error {
					w.sources[day+string(key)] = n
					return nil
				})
				return err
			})
		}
	}
	return tx.SendBatch(ctx, b).Close()
}

// applyItem applies one upload to its install's state in the batch, as
// apply (and admitNew, clamp and crashes) would in a transaction of its
// own, and adds its writes to w.
func (s *Sink) applyItem(it *item, ib *installBatch, w *batchWrites) error {
	u, day := it.u, it.day.Format(dayFormat)
	if ib.isNew {
		if s.newPerSource >= 0 {
			k := day + string(it.src)
			if w.sources[k]+1 > s.newPerSource {
				wait := it.day.AddDate(0, 0, 1).Sub(u.Received) + rand.N(RetryJitter)
				return &sink.LimitedError{Reason: "new_installs", RetryAfter: wait}
			}
			w.sources[k]++
			w.sourceAdd[k]++
			w.sourceKeys[k] = sourceRow{day, it.src}
		}
		ib.isNew = false
	}
	ak := day + string(ib.key)
	if a, ok := w.active[ak]; !ok || !u.Received.Before(a.at) {
		w.active[ak] = activeRow{day: day, key: ib.key, version: u.CLIVersion, os: u.OS, at: u.Received}
	}
	smaller, larger := false, false
	for _, c := range u.Counters {
		old, ok := ib.counters[counterKey{c.Path, int32(c.ExitCode)}]
		switch n := int64(c.Count); {
		case !ok && n > 0, n > old:
			larger = true
		case n < old:
			smaller = true
		}
	}
	if !larger {
		return nil
	}
	reset := smaller
	n := len(u.Counters)
	ipaths, icodes, incs := make([]string, 0, n), make([]int32, 0, n), make([]int64, 0, n)
	before := ib.counters
	if reset { // they become exactly the upload's
		ib.counters = make(map[counterKey]int64, n)
	}
	for _, c := range u.Counters {
		ck := counterKey{c.Path, int32(c.ExitCode)}
		nw, old := int64(c.Count), before[ck]
		inc := nw - old
		if nw < old {
			inc = nw
		}
		if nw != old || reset {
			ib.counters[ck] = nw
		}
		if inc > 0 {
			ipaths, icodes, incs = append(ipaths, c.Path), append(icodes, ck.code), append(incs, inc)
		}
	}
	if s.maxDaily >= 0 {
		k := day + string(ib.key)
		left := max(int64(s.maxDaily)-w.counted[k], 0)
		var took, over int64
		for i, n := range incs {
			t := min(n, left)
			left -= t
			took += t
			over += n - t
			incs[i] = t
		}
		if took > 0 {
			w.counted[k] += took
			w.dayAdd[k] += took
			w.dayKeys[k] = sourceRow{day, ib.key}
		}
		if over > 0 {
			w.health(u.Received, sink.Clamped, "daily_runs", 1, over)
		}
	}
	ipaths, icodes, incs = nonZero(ipaths, icodes, incs)
	for i, p := range ipaths {
		w.usage[usageRow{day, p, icodes[i], u.CLIVersion, u.OS}] += incs[i]
		ib.command(w, day, p, u.CLIVersion, icodes[i] != 0)
	}
	// Crash sites: increments against the counts stored before a reset,
	// bounded by the counted runs of ExitPanic.
	if len(u.Crashes) == 0 {
		if reset {
			ib.crashes = map[crashKey]int64{}
		}
		return nil
	}
	budget := map[string]int64{}
	for i, p := range ipaths {
		if icodes[i] == ExitPanic {
			budget[p] = incs[i]
		}
	}
	stored := ib.crashes
	if reset {
		ib.crashes = make(map[crashKey]int64, len(u.Crashes))
	}
	for _, c := range u.Crashes {
		xk := crashKey{c.Path, c.Site}
		nw := int64(c.Count)
		old, ok := stored[xk]
		if !ok || nw != old || reset {
			ib.crashes[xk] = nw
		}
		inc := nw - old
		if nw < old {
			inc = nw
		}
		inc = min(inc, budget[c.Path])
		if inc > 0 {
			budget[c.Path] -= inc
			w.crash[crashRow{day, c.Path, u.CLIVersion, c.Site, string(ib.key)}] += inc
		}
	}
	return nil
}

// command notes that install ib ran path on version that day, failing or
// not: a command_daily row to write, unless the install's state says it
// has it already (for its current day, with failed set if this run
// failed).
func (ib *installBatch) command(w *batchWrites, day, path, version string, failed bool) {
	if day > ib.cmdDay { // its first of a new day
		ib.cmdDay, ib.cmds = day, map[string]bool{}
	}
	if day == ib.cmdDay {
		vp := version + " " + path
		has, ok := ib.cmds[vp]
		if ok && (has || !failed) {
			return
		}
		ib.cmds[vp] = failed
	}
	// An upload of an earlier day, arriving late, is written as it is:
	// its rows are not in the state, and may or may not be there.
	ck := commandRow{day, path, version, string(ib.key)}
	w.command[ck] = w.command[ck] || failed
}

type sourceRow struct {
	day string
	key []byte
}

type activeRow struct {
	day         string
	key         []byte
	version, os string
	at          time.Time
}

type usageRow struct {
	day, path   string
	code        int32
	version, os string
}

type commandRow struct{ day, path, version, key string }

type crashRow struct{ day, path, version, site, key string }

type healthRow struct {
	hour            time.Time
	outcome, reason string
}

// batchWrites is what a batch writes, each row once.
type batchWrites struct {
	sourceAdd  map[string]int
	sourceKeys map[string]sourceRow
	dayAdd     map[string]int64
	dayKeys    map[string]sourceRow
	active     map[string]activeRow
	usage      map[usageRow]int64
	command    map[commandRow]bool
	crash      map[crashRow]int64
	healthN    map[healthRow][2]int64
	// read: the runs counted per day and install, the new installs per
	// day and address
	counted map[string]int64
	sources map[string]int
}

func newBatchWrites() *batchWrites {
	return &batchWrites{sourceAdd: map[string]int{}, sourceKeys: map[string]sourceRow{}, dayAdd: map[string]int64{}, dayKeys: map[string]sourceRow{},
		active: map[string]activeRow{}, usage: map[usageRow]int64{}, command: map[commandRow]bool{}, crash: map[crashRow]int64{},
		healthN: map[healthRow][2]int64{}, counted: map[string]int64{}, sources: map[string]int{}}
}

func (w *batchWrites) health(at time.Time, outcome, reason string, uploads, runs int64) {
	k := healthRow{at.UTC().Truncate(time.Hour), outcome, reason}
	v := w.healthN[k]
	w.healthN[k] = [2]int64{v[0] + uploads, v[1] + runs}
}

// sortedKeys returns m's keys in order.
func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) int) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, less)
	return ks
}

// queue adds the batch's statements to b, in the order of the tables'
// locks elsewhere: the installs' rows first, the shared aggregates last.
func (w *batchWrites) queue(b *pgx.Batch, installs []*installBatch) {
	if len(w.sourceAdd) > 0 {
		ks := sortedKeys(w.sourceAdd, cmp.Compare[string])
		dd, dk, dn := make([]string, len(ks)), make([][]byte, len(ks)), make([]int32, len(ks))
		for i, k := range ks {
			dd[i], dk[i], dn[i] = w.sourceKeys[k].day, w.sourceKeys[k].key, int32(w.sourceAdd[k])
		}
		b.Queue(query("add_new_installs"), dd, dk, dn)
	}
	// The installs' state, each install's row once: its latest upload's
	// time and day, and its counts, whole, as slices of flat arrays
	// (1-based, inclusive; lo > hi is empty).
	var keys [][]byte
	var received []time.Time
	var clo, chi, xlo, xhi, mlo, mhi []int32
	var cp, xp, xs, mp, md, days []string
	var cc []int32
	var cn, xn []int64
	var mf []bool
	for _, ib := range installs {
		if ib.isNew {
			continue // refused: deleted above
		}
		keys, clo, xlo, mlo = append(keys, ib.key), append(clo, int32(len(cp)+1)), append(xlo, int32(len(xp)+1)), append(mlo, int32(len(mp)+1))
		received, days, md = append(received, ib.received), append(days, ib.lastDay), append(md, ib.cmdDay)
		for _, k := range sortedKeys(ib.cmds, cmp.Compare[string]) {
			mp, mf = append(mp, k), append(mf, ib.cmds[k])
		}
		mhi = append(mhi, int32(len(mp)))
		for _, k := range sortedKeys(ib.counters, func(a, b counterKey) int { return cmp.Or(cmp.Compare(a.path, b.path), cmp.Compare(a.code, b.code)) }) {
			cp, cc, cn = append(cp, k.path), append(cc, k.code), append(cn, ib.counters[k])
		}
		for _, k := range sortedKeys(ib.crashes, func(a, b crashKey) int { return cmp.Or(cmp.Compare(a.path, b.path), cmp.Compare(a.site, b.site)) }) {
			xp, xs, xn = append(xp, k.path), append(xs, k.site), append(xn, ib.crashes[k])
		}
		chi, xhi = append(chi, int32(len(cp))), append(xhi, int32(len(xp)))
	}
	if len(keys) > 0 {
		if cp == nil { // pgx sends a nil slice as NULL, whose slices are NULL
			cp, cc, cn = []string{}, []int32{}, []int64{}
		}
		if xp == nil {
			xp, xs, xn = []string{}, []string{}, []int64{}
		}
		if mp == nil {
			mp, mf = []string{}, []bool{}
		}
		b.Queue(query("write_installs"), keys, received, days, clo, chi, xlo, xhi, mlo, mhi, md, cp, cc, cn, xp, xs, xn, mp, mf)
	}
	if len(w.dayAdd) > 0 {
		ks := sortedKeys(w.dayAdd, cmp.Compare[string])
		dd, dk, dn := make([]string, len(ks)), make([][]byte, len(ks)), make([]int64, len(ks))
		for i, k := range ks {
			dd[i], dk[i], dn[i] = w.dayKeys[k].day, w.dayKeys[k].key, w.dayAdd[k]
		}
		b.Queue(query("add_counted_runs"), dd, dk, dn)
	}
	if len(w.active) > 0 {
		ks := sortedKeys(w.active, cmp.Compare[string])
		ad, ak, av, ao, at := make([]string, len(ks)), make([][]byte, len(ks)), make([]string, len(ks)), make([]string, len(ks)), make([]time.Time, len(ks))
		for i, k := range ks {
			a := w.active[k]
			ad[i], ak[i], av[i], ao[i], at[i] = a.day, a.key, a.version, a.os, a.at
		}
		b.Queue(query("write_active"), ad, ak, av, ao, at)
	}
	if len(w.command) > 0 {
		ks := sortedKeys(w.command, func(a, b commandRow) int {
			return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.path, b.path), cmp.Compare(a.version, b.version), cmp.Compare(a.key, b.key))
		})
		for _, failed := range []bool{false, true} {
			var cd, cpp, cv []string
			var ckk [][]byte
			for _, k := range ks {
				if w.command[k] == failed {
					cd, cpp, cv, ckk = append(cd, k.day), append(cpp, k.path), append(cv, k.version), append(ckk, []byte(k.key))
				}
			}
			if len(cd) > 0 {
				b.Queue(commandDailySQL(failed), cd, cpp, cv, ckk)
			}
		}
	}
	if len(w.crash) > 0 {
		ks := sortedKeys(w.crash, func(a, b crashRow) int {
			return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.path, b.path), cmp.Compare(a.version, b.version), cmp.Compare(a.site, b.site), cmp.Compare(a.key, b.key))
		})
		d, p, v, st, k, n := make([]string, len(ks)), make([]string, len(ks)), make([]string, len(ks)), make([]string, len(ks)), make([][]byte, len(ks)), make([]int64, len(ks))
		for i, r := range ks {
			d[i], p[i], v[i], st[i], k[i], n[i] = r.day, r.path, r.version, r.site, []byte(r.key), w.crash[r]
		}
		b.Queue(query("add_crashes"), d, p, v, st, k, n)
	}
	if len(w.usage) > 0 {
		ks := sortedKeys(w.usage, func(a, b usageRow) int {
			return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.path, b.path), cmp.Compare(a.code, b.code), cmp.Compare(a.version, b.version), cmp.Compare(a.os, b.os))
		})
		d, p, c, v, o, n := make([]string, len(ks)), make([]string, len(ks)), make([]int32, len(ks)), make([]string, len(ks)), make([]string, len(ks)), make([]int64, len(ks))
		for i, r := range ks {
			d[i], p[i], c[i], v[i], o[i], n[i] = r.day, r.path, r.code, r.version, r.os, w.usage[r]
		}
		b.Queue(query("add_usage"), d, p, c, v, o, n)
	}
	for _, k := range sortedKeys(w.healthN, func(a, b healthRow) int {
		return cmp.Or(a.hour.Compare(b.hour), cmp.Compare(a.outcome, b.outcome), cmp.Compare(a.reason, b.reason))
	}) {
		v := w.healthN[k]
		queueHealthN(b, k.hour, k.outcome, k.reason, v[0], v[1])
	}
}
