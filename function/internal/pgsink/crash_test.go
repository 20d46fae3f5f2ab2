package pgsink_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/pgsink"
)

const (
	siteA = "internal/cli.crashTest:+4 internal/cli.newRoot.func1:+2"
	siteB = "internal/platform.(*Postgres).Tables:+3"
)

// crashBody is an upload with crash sites, as pace-telemetryd sends it.
func crashBody(id, version string, counts map[string]map[int]uint64, sites map[string]map[string]uint64) string {
	var p map[string]any
	json.Unmarshal([]byte(body(id, version, "linux", counts)), &p)
	cs := map[string]map[string]map[string]uint64{}
	for path, m := range sites {
		cs[path] = map[string]map[string]uint64{}
		for site, n := range m {
			cs[path][site] = map[string]uint64{"cumulative_count": n}
		}
	}
	p["crash_sites"] = cs
	b, _ := json.Marshal(p)
	return string(b)
}

// crashRows reads crash_daily as (path, version, site) → crashes, installs.
func crashRows(t *testing.T, r *rig) map[[3]string][2]int64 {
	t.Helper()
	rows, err := r.conn(t).Query(context.Background(), `SELECT path, cli_version, site, sum(crashes)::bigint, count(DISTINCT install_key) FROM crash_daily GROUP BY 1, 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[[3]string][2]int64{}
	var path, version, site string
	var crashes, installs int64
	if _, err := pgx.ForEachRow(rows, []any{&path, &version, &site, &crashes, &installs}, func() error {
		out[[3]string{path, version, site}] = [2]int64{crashes, installs}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Crash sites are counted as exact daily increments per command, version
// and site; resent and late uploads add nothing; a site's crashes never
// exceed the command's crashed runs counted; erasure takes them.
func TestCrashSitesAreExactIncrements(t *testing.T) {
	r := newRig(t)
	const a, b = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	first := crashBody(a, "v1.27.0", map[string]map[int]uint64{"pace list tables": {0: 3, 70: 2}}, map[string]map[string]uint64{"pace list tables": {siteA: 1, siteB: 1}})
	r.post(t, first)
	r.post(t, first) // resent: nothing more
	r.post(t, crashBody(a, "v1.27.0", map[string]map[int]uint64{"pace list tables": {0: 3, 70: 3}}, map[string]map[string]uint64{"pace list tables": {siteA: 2, siteB: 1}}))
	r.post(t, first) // late: nothing
	// Another install, claiming more crashes at a site than crashed runs.
	r.post(t, crashBody(b, "v1.27.0", map[string]map[int]uint64{"pace list tables": {70: 1}}, map[string]map[string]uint64{"pace list tables": {siteA: 5}}))
	got := crashRows(t, r)
	want := map[[3]string][2]int64{
		{"pace list tables", "v1.27.0", siteA}: {3, 2},
		{"pace list tables", "v1.27.0", siteB}: {1, 1},
	}
	if len(got) != len(want) || got[[3]string{"pace list tables", "v1.27.0", siteA}] != want[[3]string{"pace list tables", "v1.27.0", siteA}] || got[[3]string{"pace list tables", "v1.27.0", siteB}] != want[[3]string{"pace list tables", "v1.27.0", siteB}] {
		t.Fatalf("crash_daily %v, want %v", got, want)
	}
	// Erasure deletes a's crash rows, and b's stay.
	erased, err := r.sink.Erase(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if erased["crash_daily"] != 2 || erased["install_state"] != 1 {
		t.Fatalf("erased %v, want 2 crash_daily rows and the install's state, its crash counts with it", erased)
	}
	if got := crashRows(t, r); got[[3]string{"pace list tables", "v1.27.0", siteA}] != [2]int64{1, 1} || len(got) != 1 {
		t.Fatalf("after erasing a: %v", got)
	}
}

// A site naming a function that is not pace's is dropped (and said so),
// while the rest of the upload is stored; so is one of a path the receiver
// does not know.
func TestCrashSitesOffTheAllowListAreDropped(t *testing.T) {
	r := newRig(t)
	const a = "33333333-3333-4333-8333-333333333333"
	b := crashBody(a, "v1.27.0", map[string]map[int]uint64{"pace version": {70: 2}}, map[string]map[string]uint64{
		"pace version":  {"internal/cli.crashTest:+4": 1, "internal/evil.StealSecrets:+1": 1},
		"pace invented": {"internal/cli.crashTest:+4": 1},
	})
	w := r.send(b, "192.0.2.1")
	if w.Code != http.StatusOK || w.Header().Get("X-Pace-Dropped") != "2" {
		t.Fatalf("answered %d, X-Pace-Dropped %q: %s", w.Code, w.Header().Get("X-Pace-Dropped"), w.Body)
	}
	got := crashRows(t, r)
	if len(got) != 1 || got[[3]string{"pace version", "v1.27.0", "internal/cli.crashTest:+4"}] != [2]int64{1, 1} {
		t.Fatalf("crash_daily %v", got)
	}
	if n := r.count(t, `SELECT count(*) FROM install_state, unnest(crash_sites) AS site WHERE site LIKE '%evil%'`); n != 0 {
		t.Fatal("a site off the allow-list was stored")
	}
}

var _ = pgsink.ExitPanic
