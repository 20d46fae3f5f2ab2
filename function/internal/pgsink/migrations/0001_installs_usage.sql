-- 1: per-install state (keyed by the HMAC of the id, never the id),
-- bounded daily aggregates, and one row per install and active day.
CREATE TABLE install_state (
		install_key   bytea PRIMARY KEY,
		last_received timestamptz NOT NULL,
		last_day      date NOT NULL
	);
	CREATE INDEX install_state_last_day ON install_state (last_day);
	CREATE TABLE install_counter (
		install_key bytea NOT NULL REFERENCES install_state ON DELETE CASCADE,
		path        text NOT NULL,
		exit_code   integer NOT NULL,
		count       bigint NOT NULL,
		PRIMARY KEY (install_key, path, exit_code)
	);
	CREATE TABLE usage_daily (
		day         date NOT NULL,
		path        text NOT NULL,
		exit_code   integer NOT NULL,
		cli_version text NOT NULL,
		os          text NOT NULL,
		runs        bigint NOT NULL,
		PRIMARY KEY (day, path, exit_code, cli_version, os)
	);
	CREATE TABLE active_daily (
		day         date NOT NULL,
		install_key bytea NOT NULL,
		PRIMARY KEY (day, install_key)
	);
