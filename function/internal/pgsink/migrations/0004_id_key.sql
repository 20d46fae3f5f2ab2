-- 4: the keys install ids were hashed with, each by a fingerprint
-- (an HMAC of a constant, which does not reveal the key) and when a
-- receiver first used it: state not written since the newest key's
-- first use is still under an older key (docs/deploy.md, Key rotation).
CREATE TABLE id_key (
		fingerprint bytea PRIMARY KEY,
		first_used  timestamptz NOT NULL DEFAULT now()
	);
