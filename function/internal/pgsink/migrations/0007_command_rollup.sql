-- 7: installs per command and day, rolled up from command_daily
-- before its rows past TELEMETRY_PG_ACTIVITY_DAYS go, without install
-- keys, for "Daily installs per command" on older days.
CREATE TABLE command_rollup (
		day      date NOT NULL,
		path     text NOT NULL,
		installs integer NOT NULL,
		PRIMARY KEY (day, path)
	);
