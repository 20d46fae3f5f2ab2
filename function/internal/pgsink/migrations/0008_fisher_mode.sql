-- 8: pace_fisher_greater again, summed around the distribution's mode
-- instead of from the table's first term: at fleet size that term's
-- probability is below the smallest double, and exp() or the running
-- product failed with "value out of range: underflow". Terms are now
-- scaled by the largest one in the tail (at most 1, the sum at least
-- 1), and a tail below about 1e-304 answers 0.
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
