package pgsink_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"
)

// The panels take shortcuts at fleet size (docs/deploy.md, "Panels at
// fleet size"); each is exact only by an argument, and this test puts a
// fleet on the edge of each argument and checks the panel against the
// definition, computed here from the uploads made:
//   - monthly active installs of a day not yet rolled up count installs by
//     their state's last day, plus those active after the day whose days
//     in the window are looked up: an install whose only day in the window
//     is its first, and one a day before the window, both active again on
//     the last day;
//   - week-over-week retention of a week not yet rolled up reads activity
//     from the last rolled-up week's Monday: an install active only on that
//     Monday and in the live week;
//   - a version counts for the newest when it reaches the minimum installs
//     on one day, or else over the range: one on 5 installs but never more
//     than 2 a day, which counts, and one on 4, which does not.
func TestPanelShortcutsAtTheirEdges(t *testing.T) {
	r := newRig(t)
	today := time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC) // a Wednesday: the week before is rolled up, this one live
	day := func(n int) time.Time { return today.AddDate(0, 0, n) }
	type upload struct {
		day     time.Time
		install int
		version string
	}
	var ups []upload
	add := func(version string, install int, days ...time.Time) {
		for _, d := range days {
			ups = append(ups, upload{d, install, version})
		}
	}
	for i := 0; i < 6; i++ { // the steady fleet, every day
		for n := -34; n <= 0; n++ {
			if (n+i)%5 != 0 { // each skips a day in five, not all the same
				add("v1.0.0", i, day(n))
			}
		}
	}
	mau := today.AddDate(0, 0, -1)                                           // the day not yet rolled up whose month is checked
	add("v1.0.0", 10, mau.AddDate(0, 0, -29), day(0))                        // in the window by its first day only
	add("v1.0.0", 11, mau.AddDate(0, 0, -30), day(0))                        // a day before it
	add("v1.0.0", 12, time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC), day(0)) // the rolled-up week's Monday, and this week
	for i, d := range []int{-6, -6, -5, -5, -4} {
		add("v9.0.0", 20+i, day(d))
	}
	add("v9.0.0", 20, day(0))
	for i, d := range []int{-6, -6, -5, -4} {
		add("v10.0.0", 30+i, day(d))
	}
	sort.SliceStable(ups, func(i, j int) bool { return ups[i].day.Before(ups[j].day) })
	runs := map[int]uint64{}
	for _, u := range ups {
		runs[u.install]++
		r.at(u.day.Add(9 * time.Hour))
		r.post(t, body(fmt.Sprintf("%08x-1111-4111-8111-%012x", u.install, u.install), u.version, "linux", cmap{"pace list tables": {0: runs[u.install]}}))
	}
	// The day's rollups, as the first upload of the day started them.
	if err := r.sink.Prune(context.Background(), today); err != nil {
		t.Fatal(err)
	}
	var rolledWeek, rolledDay time.Time
	c := r.conn(t)
	if err := c.QueryRow(context.Background(), `SELECT (SELECT max(week) FROM retention_rollup), (SELECT max(day) FROM activity_rollup)`).Scan(&rolledWeek, &rolledDay); err != nil {
		t.Fatal(err)
	}
	if !rolledWeek.Equal(time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC)) || !rolledDay.Before(mau) {
		t.Fatalf("rolled up to week %v and day %v: the edges below are not the live ones", rolledWeek, rolledDay)
	}

	active := func(from, to time.Time) map[int]string { // install → version of its latest day in [from, to)
		in := map[int]string{}
		for _, u := range ups {
			if !u.day.Before(from) && u.day.Before(to) {
				in[u.install] = u.version
			}
		}
		return in
	}
	panels, _ := readDashboard(t)
	sqlOf := func(title string, from, to time.Time) string {
		for _, p := range panels {
			if p.Title == title {
				return withVars(grafanaSQL(p.Targets[0].RawSQL, from, to, nil), dashboardVars(t))
			}
		}
		t.Fatalf("no panel %q", title)
		return ""
	}
	from, to := day(-27), day(1)

	want := map[string]float64{}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		want[dayKey(d)] = float64(len(active(d.AddDate(0, 0, -29), d.AddDate(0, 0, 1))))
	}
	if got := query(t, c, sqlOf("Monthly active installs", from, to)); !same(got, want) {
		t.Errorf("monthly active installs:\n got  %v\n want %v", got, want)
	}

	want = map[string]float64{}
	for w := time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC); w.Before(to); w = w.AddDate(0, 0, 7) {
		prev, cur := active(w.AddDate(0, 0, -7), w), active(w, w.AddDate(0, 0, 7))
		kept := 0
		for i := range prev {
			if _, ok := cur[i]; ok {
				kept++
			}
		}
		want[dayKey(w)] = 100 * float64(kept) / float64(len(prev))
	}
	got := query(t, c, sqlOf("Week-over-week retention", from, to))
	if len(got) != len(want) {
		t.Errorf("retention weeks %v, want %v", got, want)
	}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-9 {
			t.Errorf("retention of the week of %s: %v, want %v", k, got[k], w)
		}
	}

	// The newest version by the definition: on at least min_installs
	// installs over the range, newest in semver order.
	minInstalls := 0
	fmt.Sscan(dashboardVars(t)["min_installs"], &minInstalls)
	perVersion := map[string]map[int]bool{}
	for _, u := range ups {
		if !u.day.Before(from) && u.day.Before(to) {
			if perVersion[u.version] == nil {
				perVersion[u.version] = map[int]bool{}
			}
			perVersion[u.version][u.install] = true
		}
	}
	newest := ""
	for v, in := range perVersion {
		if len(in) >= minInstalls && (newest == "" || semverLess(newest, v)) {
			newest = v
		}
	}
	last := active(day(0), day(1))
	onNewest := 0
	for _, v := range last {
		if v == newest {
			onNewest++
		}
	}
	first := time.Time{}
	for _, u := range ups {
		if u.version == newest && (first.IsZero() || u.day.Before(first)) {
			first = u.day
		}
	}
	_, rows := table(t, c, sqlOf("Newest version", from, to))
	wantRow := []cell{text(newest), text(first.Format(time.DateOnly)), num(100 * float64(onNewest) / float64(len(last)))}
	if newest != "v9.0.0" || !sameRows(rows, [][]cell{wantRow}, 1e-9) {
		t.Errorf("newest version: %v, want %v (on %d installs of %d needed)", rows, wantRow, len(perVersion[newest]), minInstalls)
	}
}
