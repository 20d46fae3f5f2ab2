package pgsink

// oldMigrations is schema.go's slice of migrations as it was before they
// moved to migrations/*.sql, kept verbatim: TestMigrationFilesEqualOldSlice
// holds every file to it, so that a database migrated by an older receiver
// and one migrated from the files are the same.
var oldMigrations = []string{
	// 1: per-install state (keyed by the HMAC of the id, never the id),
	// bounded daily aggregates, and one row per install and active day.
	`CREATE TABLE install_state (
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
	);`,
	// 2: the version and system of an install's latest upload of the day,
	// for the installs-per-version and per-system panels.
	`ALTER TABLE active_daily
		ADD COLUMN cli_version text NOT NULL DEFAULT '',
		ADD COLUMN os text NOT NULL DEFAULT '',
		ADD COLUMN last_at timestamptz NOT NULL DEFAULT '-infinity';`,
	// 3: bounds on what one install and one address may add in a day,
	// and the receiver's own health figures. install_day and source_day
	// hold only the current day (pruned after it), under keyed hashes;
	// source_salt is the day's random salt of the address hashes, dropped
	// with them so that no hash can be linked to an address afterwards.
	// receiver_health is per UTC hour, so an alert can read an hour; its
	// rows are spread over shards so that concurrent uploads do not queue
	// on one row.
	`CREATE TABLE install_day (
		day         date NOT NULL,
		install_key bytea NOT NULL REFERENCES install_state ON DELETE CASCADE,
		counted     bigint NOT NULL,
		PRIMARY KEY (day, install_key)
	);
	CREATE INDEX install_day_install_key ON install_day (install_key);
	CREATE TABLE source_salt (
		day  date PRIMARY KEY,
		salt bytea NOT NULL
	);
	CREATE TABLE source_day (
		day          date NOT NULL,
		source_key   bytea NOT NULL,
		new_installs integer NOT NULL,
		PRIMARY KEY (day, source_key)
	);
	CREATE TABLE receiver_health (
		hour    timestamptz NOT NULL,
		outcome text NOT NULL,
		reason  text NOT NULL,
		shard   smallint NOT NULL,
		uploads bigint NOT NULL,
		runs    bigint NOT NULL,
		PRIMARY KEY (hour, outcome, reason, shard)
	);`,
	// 4: the keys install ids were hashed with, each by a fingerprint
	// (an HMAC of a constant, which does not reveal the key) and when a
	// receiver first used it: state not written since the newest key's
	// first use is still under an older key (docs/deploy.md, Key rotation).
	`CREATE TABLE id_key (
		fingerprint bytea PRIMARY KEY,
		first_used  timestamptz NOT NULL DEFAULT now()
	);`,
	// 5: rollups without install keys of what the panels need from
	// active_daily, written before its rows past TELEMETRY_PG_ACTIVITY_DAYS
	// are deleted, so that older days' panels stay exact.
	`CREATE TABLE activity_rollup (
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
	);`,
	// 6: release health: which installs ran each command on each version
	// that day, and whether one of those runs failed (keyed by the HMAC of
	// the id, as active_daily: no counts, no time of day), for "Installs
	// per command" and the install-level test of "Regressions on the
	// newest version"; the receiver's allow-list, which it writes at
	// start, for "Unused commands"; semantic-version order, and the
	// one-sided Fisher exact test, for the regression panels; and the
	// indexes the per-version panels read by.
	`CREATE TABLE command_daily (
		day         date NOT NULL,
		path        text NOT NULL,
		cli_version text NOT NULL,
		install_key bytea NOT NULL,
		failed      boolean NOT NULL,
		PRIMARY KEY (day, path, cli_version, install_key)
	);
	CREATE INDEX command_daily_install_key ON command_daily (install_key);
	CREATE TABLE command_path (path text PRIMARY KEY);
	CREATE INDEX active_daily_version ON active_daily (cli_version, day);
	CREATE INDEX usage_daily_version ON usage_daily (cli_version, day);
	CREATE INDEX command_daily_version ON command_daily (cli_version, day);

	-- The sort key of a normalized version (payload.NormalizeVersion):
	-- vMAJOR.MINOR.PATCH[-(alpha|beta|dev|rc)[.N]], pre-releases before
	-- their release, as semantic versioning orders them; NULL for
	-- anything else.
	CREATE FUNCTION pace_semver(v text) RETURNS int[] LANGUAGE sql IMMUTABLE STRICT AS $$
		SELECT CASE WHEN m IS NOT NULL THEN ARRAY[
			m[1]::int, m[2]::int, m[3]::int,
			CASE m[4] WHEN 'alpha' THEN 1 WHEN 'beta' THEN 2 WHEN 'dev' THEN 3 WHEN 'rc' THEN 4 ELSE 9 END,
			coalesce(m[5]::int, -1)]
		END
		FROM regexp_match(v, '^v(\d{1,9})\.(\d{1,9})\.(\d{1,9})(?:-(alpha|beta|dev|rc)(?:\.(\d{1,9}))?)?$') AS m
	$$;

	-- ln(n!): exact sums below 30, Stirling's series above (error under
	-- 1e-13).
	CREATE FUNCTION pace_lnfact(n bigint) RETURNS double precision LANGUAGE plpgsql IMMUTABLE STRICT AS $$
	DECLARE
		s double precision := 0;
		x double precision := n;
	BEGIN
		IF n < 30 THEN
			FOR i IN 2..n LOOP
				s := s + ln(i::double precision);
			END LOOP;
			RETURN s;
		END IF;
		RETURN x * ln(x) - x + 0.5 * ln(2 * pi() * x) + 1 / (12 * x) - 1 / (360 * x ^ 3) + 1 / (1260 * x ^ 5);
	END $$;

	-- The one-sided Fisher exact test of the 2×2 table
	--   a failing, b passing (the tested group)
	--   c failing, d passing (the baseline)
	-- against the alternative that the tested group fails more often:
	-- P(X >= a) for X hypergeometric with the table's margins.
	CREATE FUNCTION pace_fisher_greater(a bigint, b bigint, c bigint, d bigint) RETURNS double precision LANGUAGE plpgsql IMMUTABLE STRICT AS $$
	DECLARE
		n  bigint := a + b;      -- size of the tested group
		k  bigint := a + c;      -- failing in all
		nn bigint := a + b + c + d;
		hi bigint := least(a + b, a + c);
		x  bigint := a;
		mode double precision := (a + b + 1)::double precision * (a + c + 1) / (a + b + c + d + 2);
		t  double precision;
		s  double precision := 0;
	BEGIN
		IF a < 0 OR b < 0 OR c < 0 OR d < 0 THEN
			RETURN NULL;
		END IF;
		t := exp(pace_lnfact(k) - pace_lnfact(a) - pace_lnfact(k - a)
			+ pace_lnfact(nn - k) - pace_lnfact(n - a) - pace_lnfact(nn - k - n + a)
			- pace_lnfact(nn) + pace_lnfact(n) + pace_lnfact(nn - n));
		LOOP
			s := s + t;
			EXIT WHEN x >= hi;
			t := t * ((k - x)::double precision * (n - x)) / ((x + 1)::double precision * (nn - k - n + x + 1));
			x := x + 1;
			EXIT WHEN x > mode AND t <= s * 1e-17;
		END LOOP;
		RETURN least(s, 1);
	END $$;`,
	// 7: installs per command and day, rolled up from command_daily
	// before its rows past TELEMETRY_PG_ACTIVITY_DAYS go, without install
	// keys, for "Daily installs per command" on older days.
	`CREATE TABLE command_rollup (
		day      date NOT NULL,
		path     text NOT NULL,
		installs integer NOT NULL,
		PRIMARY KEY (day, path)
	);`,
	// 8: pace_fisher_greater again, summed around the distribution's mode
	// instead of from the table's first term: at fleet size that term's
	// probability is below the smallest double, and exp() or the running
	// product failed with "value out of range: underflow". Terms are now
	// scaled by the largest one in the tail (at most 1, the sum at least
	// 1), and a tail below about 1e-304 answers 0.
	`CREATE OR REPLACE FUNCTION pace_fisher_greater(a bigint, b bigint, c bigint, d bigint) RETURNS double precision LANGUAGE plpgsql IMMUTABLE STRICT AS $$
	DECLARE
		n  bigint := a + b;      -- size of the tested group
		k  bigint := a + c;      -- failing in all
		nn bigint := a + b + c + d;
		hi bigint := least(a + b, a + c);
		x0 bigint;               -- the largest term of the tail
		x  bigint;
		lm double precision;     -- its logarithm
		t  double precision;
		s  double precision := 1;
		r  double precision;
	BEGIN
		IF a < 0 OR b < 0 OR c < 0 OR d < 0 THEN
			RETURN NULL;
		END IF;
		-- The hypergeometric mode; the terms rise to it and fall after.
		x0 := greatest(a, least(hi, floor((n + 1)::double precision * (k + 1) / (nn + 2))::bigint));
		lm := pace_lnfact(k) - pace_lnfact(x0) - pace_lnfact(k - x0)
			+ pace_lnfact(nn - k) - pace_lnfact(n - x0) - pace_lnfact(nn - k - n + x0)
			- pace_lnfact(nn) + pace_lnfact(n) + pace_lnfact(nn - n);
		-- Upwards from x0 to hi.
		t := 1;
		x := x0;
		WHILE x < hi LOOP
			t := t * ((k - x)::double precision * (n - x)) / ((x + 1)::double precision * (nn - k - n + x + 1));
			x := x + 1;
			s := s + t;
			EXIT WHEN t <= s * 1e-17;
		END LOOP;
		-- Downwards from x0 to a.
		t := 1;
		x := x0;
		WHILE x > a LOOP
			t := t * (x::double precision * (nn - k - n + x)) / ((k - x + 1)::double precision * (n - x + 1));
			x := x - 1;
			s := s + t;
			EXIT WHEN t <= s * 1e-17;
		END LOOP;
		r := lm + ln(s);
		IF r < -700 THEN
			RETURN 0;
		END IF;
		RETURN least(exp(r), 1);
	END $$;`,
	// 9: the indexes the panels need at fleet size (docs/deploy.md,
	// "Panels at fleet size"). By (path, install_key, day): the distinct
	// installs of each command in a range are read in order from the
	// index, without sorting a month of rows. By (install_key, day): the
	// monthly active installs of a day not yet rolled up look up the days
	// of the installs active after it; erasure and key rotation find an
	// install's activity without a scan. The statistics tell the planner
	// how many (path, install) pairs a range holds: guessing a quarter of
	// them, it hashed them instead, spilling to disk (1.8 s, not 0.6 s).
	`CREATE INDEX command_daily_reach ON command_daily (path, install_key, day);
	CREATE INDEX active_daily_install ON active_daily (install_key, day);
	CREATE STATISTICS command_daily_reach (ndistinct) ON path, install_key FROM command_daily;`,
	// 10: crash sites. install_crash is each install's last cumulative
	// count per command and site, as install_counter is for runs;
	// crash_daily the crashes it added that day on its version (under the
	// keyed hash, kept the activity days as command_daily); crash_rollup
	// the same per day without install keys: installs and crashes.
	`CREATE TABLE install_crash (
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
	);`,
}
