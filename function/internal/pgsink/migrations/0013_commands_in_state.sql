-- 13: which command_daily rows an install has on its current day, in
-- its install_state row (docs/postgresql.md, "Group commit"): its later
-- uploads that day then write only the rows it does not have yet, where
-- each upload probed all of its commands' rows. commands holds one entry
-- per row, its version and path ("v1.2.0 pace list tables"), in order;
-- commands_failed the row's failed flag. They describe the day
-- commands_day only, and the daily prune empties them once that day
-- leaves TELEMETRY_PG_ACTIVITY_DAYS, with the day's command_daily rows.
ALTER TABLE install_state
	ADD COLUMN commands_day date,
	ADD COLUMN commands text[] NOT NULL DEFAULT '{}',
	ADD COLUMN commands_failed boolean[] NOT NULL DEFAULT '{}';
