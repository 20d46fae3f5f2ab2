package pgsink_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/internal/pgsink"
)

// command_daily holds, per day, version and install, each command it ran
// and whether a run of it failed, whatever the install's uploads that day
// and however they fall into batches: those that add a row (the day's
// first run of a command, a first failure, a new version, a new day), and
// those that add none, which write nothing (the install's state says
// which rows it has). An upload of an earlier day arriving late still adds
// its rows; the prune empties the state's day once it leaves the activity
// days.
func TestCommandDailyRowsFromTheState(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	const id = "44444444-4444-4444-8444-444444444444"
	steps := []struct {
		at      time.Time
		counts  []any
		version string
	}{
		{day, []any{"pace list tables", 0, 1}, "v1.25.0"},
		{day.Add(time.Hour), []any{"pace list tables", 0, 2}, "v1.25.0"},                                                      // nothing new
		{day.Add(2 * time.Hour), []any{"pace list tables", 0, 2, "pace list tables", 1, 1}, "v1.25.0"},                        // fails
		{day.Add(3 * time.Hour), []any{"pace list tables", 0, 3, "pace list tables", 1, 1}, "v1.25.0"},                        // failed stays
		{day.Add(4 * time.Hour), []any{"pace list tables", 0, 4, "pace list tables", 1, 1, "pace version", 0, 1}, "v1.26.0"},  // new version
		{day.Add(24 * time.Hour), []any{"pace list tables", 0, 5, "pace list tables", 1, 1, "pace version", 0, 1}, "v1.26.0"}, // next day
		{day.Add(5 * time.Hour), []any{"pace list tables", 0, 5, "pace list tables", 1, 1, "pace version", 0, 2}, "v1.26.0"},  // late: the first day
	}
	for _, s := range steps {
		u := groupUpload(id, s.at, s.counts...)
		u.CLIVersion = s.version
		if err := r.sink.Write(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	c := r.conn(t)
	rows, err := c.Query(ctx, `SELECT format('%s %s %s %s', day, cli_version, path, failed) FROM command_daily ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2026-11-02 v1.25.0 pace list tables t",
		"2026-11-02 v1.26.0 pace list tables f",
		"2026-11-02 v1.26.0 pace version f",
		"2026-11-03 v1.26.0 pace list tables f",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("command_daily:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The late upload of the first day added pace version's row of it,
	// there already; its state still describes the second day.
	var stateDay string
	var cmds []string
	if err := c.QueryRow(ctx, `SELECT commands_day::text, commands FROM install_state`).Scan(&stateDay, &cmds); err != nil {
		t.Fatal(err)
	}
	if stateDay != "2026-11-03" || strings.Join(cmds, ",") != "v1.26.0 pace list tables" {
		t.Errorf("state: %s %v", stateDay, cmds)
	}
	if err := r.sink.Prune(ctx, day.AddDate(0, 0, pgsink.DefaultActivityDays+2)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM install_state WHERE commands_day IS NOT NULL OR cardinality(commands) > 0 OR cardinality(commands_failed) > 0`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after the activity days, %d states still hold a day's commands (%v)", n, err)
	}
}
