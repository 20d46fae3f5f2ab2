package grafanasql

import (
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	from := time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 12, 4, 23, 59, 59, 999e6, time.FixedZone("CET", 3600))
	got := Expand(`SELECT $__timeGroup(day::timestamp, '1d'), $__timeFrom(), $__timeTo() WHERE $__timeFilter(at) AND p IN ($command) AND q IN ($commands) AND n >= ${min_installs} AND $min_installs > 0`,
		from, to, map[string]string{"command": Quote([]string{"pace", "it's"}), "commands": "'x'", "min_installs": "5"})
	want := `SELECT floor(extract(epoch from day::timestamp)/86400)*86400, '2026-11-04T00:00:00Z', '2026-12-04T22:59:59Z' WHERE at BETWEEN '2026-11-04T00:00:00Z' AND '2026-12-04T22:59:59Z' AND p IN ('pace','it''s') AND q IN ('x') AND n >= 5 AND 5 > 0`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
