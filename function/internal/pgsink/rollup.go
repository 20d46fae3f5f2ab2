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
	const days = `
	WITH bounds AS (
		SELECT coalesce((SELECT max(day) + 1 FROM activity_rollup), (SELECT min(day) FROM active_daily)) AS first,
			$1::date - 2 AS last
	), todo AS (
		SELECT g.d::date AS day FROM bounds, generate_series(bounds.first, bounds.last, interval '1 day') AS g(d)
		WHERE bounds.first IS NOT NULL
	), a AS (
		INSERT INTO activity_rollup (day, dau, wau, mau)
		SELECT todo.day,
			(SELECT count(*) FROM active_daily WHERE day = todo.day),
			(SELECT count(DISTINCT install_key) FROM active_daily WHERE day > todo.day - 7 AND day <= todo.day),
			(SELECT count(DISTINCT install_key) FROM active_daily WHERE day > todo.day - 30 AND day <= todo.day)
		FROM todo
		ON CONFLICT (day) DO NOTHING
	), k AS (
		INSERT INTO crash_rollup (day, path, cli_version, site, installs, crashes)
		SELECT day, path, cli_version, site, count(DISTINCT install_key), sum(crashes) FROM crash_daily
		WHERE day IN (SELECT day FROM todo)
		GROUP BY 1, 2, 3, 4
		ON CONFLICT (day, path, cli_version, site) DO NOTHING
	), c AS (
		INSERT INTO command_rollup (day, path, installs)
		SELECT day, path, count(DISTINCT install_key) FROM command_daily
		WHERE day IN (SELECT day FROM todo)
		GROUP BY 1, 2
		ON CONFLICT (day, path) DO NOTHING
	)
	INSERT INTO installs_rollup (day, cli_version, os, installs)
	SELECT day, cli_version, os, count(*) FROM active_daily
	WHERE day IN (SELECT day FROM todo)
	GROUP BY 1, 2, 3
	ON CONFLICT (day, cli_version, os) DO NOTHING`
	if _, err := tx.Exec(ctx, days, today); err != nil {
		return err
	}
	// Weeks whose Sunday is two days back or earlier.
	const weeks = `
	WITH bounds AS (
		SELECT coalesce((SELECT max(week) + 7 FROM retention_rollup), date_trunc('week', (SELECT min(day) FROM active_daily))::date) AS first,
			date_trunc('week', $1::date - 2 - 6)::date AS last
	)
	INSERT INTO retention_rollup (week, previous, retained)
	SELECT w, count(p.install_key), count(c.install_key)
	FROM bounds, generate_series(bounds.first, bounds.last, interval '7 days') AS g(d)
		CROSS JOIN LATERAL (SELECT g.d::date AS w) ww
		-- The week before's installs and this week's, each once, joined
		-- by hash: one pass over each week's rows, not a lookup per row.
		LEFT JOIN LATERAL (SELECT DISTINCT install_key FROM active_daily WHERE day >= w - 7 AND day < w) p ON true
		LEFT JOIN LATERAL (SELECT DISTINCT install_key FROM active_daily WHERE day >= w AND day < w + 7) c ON c.install_key = p.install_key
	WHERE bounds.first IS NOT NULL
	GROUP BY w
	ON CONFLICT (week) DO NOTHING`
	_, err := tx.Exec(ctx, weeks, today)
	return err
}
