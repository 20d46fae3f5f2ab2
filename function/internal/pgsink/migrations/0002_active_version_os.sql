-- 2: the version and system of an install's latest upload of the day,
-- for the installs-per-version and per-system panels.
ALTER TABLE active_daily
		ADD COLUMN cli_version text NOT NULL DEFAULT '',
		ADD COLUMN os text NOT NULL DEFAULT '',
		ADD COLUMN last_at timestamptz NOT NULL DEFAULT '-infinity';
