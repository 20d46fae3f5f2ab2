-- 6: release health: which installs ran each command on each version
-- that day, and whether one of those runs failed (keyed by the HMAC of
-- the id, as active_daily: no counts, no time of day), for "Installs
-- per command" and the install-level test of "Regressions on the
-- newest version"; the receiver's allow-list, which it writes at
-- start, for "Unused commands"; semantic-version order, and the
-- one-sided Fisher exact test, for the regression panels; and the
-- indexes the per-version panels read by.
CREATE TABLE command_daily (
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
	END $$;
