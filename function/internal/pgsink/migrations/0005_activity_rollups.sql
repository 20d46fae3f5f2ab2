-- 5: rollups without install keys of what the panels need from
-- active_daily, written before its rows past TELEMETRY_PG_ACTIVITY_DAYS
-- are deleted, so that older days' panels stay exact.
CREATE TABLE activity_rollup (
		day date PRIMARY KEY,
		dau integer NOT NULL,
		wau integer NOT NULL,
		mau integer NOT NULL
	);
	CREATE TABLE installs_rollup (
		day         date NOT NULL,
		cli_version text NOT NULL,
		os          text NOT NULL,
		installs    integer NOT NULL,
		PRIMARY KEY (day, cli_version, os)
	);
	CREATE TABLE retention_rollup (
		week     date PRIMARY KEY,
		previous integer NOT NULL,
		retained integer NOT NULL
	);
