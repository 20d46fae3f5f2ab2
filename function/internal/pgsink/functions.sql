-- The SQL functions of the schema, each in its current body: applied with
-- CREATE OR REPLACE at every Open, after the migrations and under their
-- advisory lock. Change a function here, not in a new migration. The
-- migrations that first created them (6, and 8 for pace_fisher_greater)
-- stay as they shipped; the bodies between $$ are byte for byte the ones
-- the migrations left (TestFunctionsFileEqualsMigrations), so re-applying
-- this file to a database migrated by an older receiver changes nothing.

-- The sort key of a normalized version (payload.NormalizeVersion):
-- vMAJOR.MINOR.PATCH[-(alpha|beta|dev|rc)[.N]], pre-releases before
-- their release, as semantic versioning orders them; NULL for
-- anything else.
CREATE OR REPLACE FUNCTION pace_semver(v text) RETURNS int[] LANGUAGE sql IMMUTABLE STRICT AS $$
		SELECT CASE WHEN m IS NOT NULL THEN ARRAY[
			m[1]::int, m[2]::int, m[3]::int,
			CASE m[4] WHEN 'alpha' THEN 1 WHEN 'beta' THEN 2 WHEN 'dev' THEN 3 WHEN 'rc' THEN 4 ELSE 9 END,
			coalesce(m[5]::int, -1)]
		END
		FROM regexp_match(v, '^v(\d{1,9})\.(\d{1,9})\.(\d{1,9})(?:-(alpha|beta|dev|rc)(?:\.(\d{1,9}))?)?$') AS m
	$$;

-- ln(n!): exact sums below 30, Stirling's series above (error under
-- 1e-13).
CREATE OR REPLACE FUNCTION pace_lnfact(n bigint) RETURNS double precision LANGUAGE plpgsql IMMUTABLE STRICT AS $$
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
-- Summed around the distribution's mode (migration 8): terms are scaled
-- by the largest one in the tail (at most 1, the sum at least 1), and a
-- tail below about 1e-304 answers 0.
CREATE OR REPLACE FUNCTION pace_fisher_greater(a bigint, b bigint, c bigint, d bigint) RETURNS double precision LANGUAGE plpgsql IMMUTABLE STRICT AS $$
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
	END $$;
