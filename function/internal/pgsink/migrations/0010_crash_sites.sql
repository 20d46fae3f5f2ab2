-- 10: crash sites. install_crash is each install's last cumulative
-- count per command and site, as install_counter is for runs;
-- crash_daily the crashes it added that day on its version (under the
-- keyed hash, kept the activity days as command_daily); crash_rollup
-- the same per day without install keys: installs and crashes.
CREATE TABLE install_crash (
		install_key bytea NOT NULL REFERENCES install_state ON DELETE CASCADE,
		path        text NOT NULL,
		site        text NOT NULL,
		count       bigint NOT NULL,
		PRIMARY KEY (install_key, path, site)
	);
	CREATE TABLE crash_daily (
		day         date NOT NULL,
		path        text NOT NULL,
		cli_version text NOT NULL,
		site        text NOT NULL,
		install_key bytea NOT NULL,
		crashes     bigint NOT NULL,
		PRIMARY KEY (day, path, cli_version, site, install_key)
	);
	CREATE INDEX crash_daily_install_key ON crash_daily (install_key);
	CREATE INDEX crash_daily_version ON crash_daily (cli_version, day);
	CREATE TABLE crash_rollup (
		day         date NOT NULL,
		path        text NOT NULL,
		cli_version text NOT NULL,
		site        text NOT NULL,
		installs    integer NOT NULL,
		crashes     bigint NOT NULL,
		PRIMARY KEY (day, path, cli_version, site)
	);
