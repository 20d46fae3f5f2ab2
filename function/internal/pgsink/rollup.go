package pgsink

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// pruneLock is the advisory lock key under which one instance at a time
// rolls up and prunes.
const pruneLock = 0x7061636502 // "pace" 2

// rollup writes, for each day up to two days before today not yet rolled
// up, the figures the dashboard's per-day panels read from active_daily,
// counted while its rows are all there: daily, weekly (7 days) and
// monthly (30 days) active installs, active installs per version and
// system (their latest upload of the day), from command_daily the
// installs that ran each command that day, from crash_daily the installs
// and crashes per command, version and crash site; and for each ISO week (Monday,
// UTC) ended by then, week-over-week retention: installs active the week
// before, and how many of them were active in it.
//
// Two days back, not one: an upload received just before midnight may
// still be committing when the day changes. Rows of a rolled-up day are
// never rewritten: an erasure afterwards leaves its counts, which hold no
// install key (they are anonymous, as the aggregates are).
//
// The activity days must cover what a rollup reads: MAU of the day two days
// back reads 30 days, the oldest of which the previous prune (a day
// earlier, at the latest as often as uploads arrive) kept: hence
// MinActivityDays.
func rollup(ctx context.Context, tx pgx.Tx, today time.Time) error {
	if _, err := tx.Exec(ctx, query("rollup_days"), today); err != nil {
		return err
	}
	// Weeks whose Sunday is two days back or earlier.
	_, err := tx.Exec(ctx, query("rollup_weeks"), today)
	return err
}
