-- 12: each install's cumulative counts as arrays in its install_state
-- row, in place of install_counter's row per command and exit code and
-- install_crash's row per crash site (docs/postgresql.md, "Group
-- commit"). Every upload already locks and rewrites its state row; the
-- counts ride along in it, so an upload of 20 counters reads and writes
-- one row where it read and wrote 21. Each array is in the order of
-- (path, exit code), or (path, site); the three of a kind have the same
-- length. Erasure, key rotation and the idle prune take them with the
-- row.
ALTER TABLE install_state
	ADD COLUMN counter_paths text[] NOT NULL DEFAULT '{}',
	ADD COLUMN counter_codes integer[] NOT NULL DEFAULT '{}',
	ADD COLUMN counter_counts bigint[] NOT NULL DEFAULT '{}',
	ADD COLUMN crash_paths text[] NOT NULL DEFAULT '{}',
	ADD COLUMN crash_sites text[] NOT NULL DEFAULT '{}',
	ADD COLUMN crash_counts bigint[] NOT NULL DEFAULT '{}';
UPDATE install_state AS s SET counter_paths = c.paths, counter_codes = c.codes, counter_counts = c.counts
FROM (SELECT install_key,
		array_agg(path ORDER BY path COLLATE "C", exit_code) AS paths,
		array_agg(exit_code ORDER BY path COLLATE "C", exit_code) AS codes,
		array_agg(count ORDER BY path COLLATE "C", exit_code) AS counts
	FROM install_counter GROUP BY install_key) AS c
WHERE s.install_key = c.install_key;
UPDATE install_state AS s SET crash_paths = c.paths, crash_sites = c.sites, crash_counts = c.counts
FROM (SELECT install_key,
		array_agg(path ORDER BY path COLLATE "C", site COLLATE "C") AS paths,
		array_agg(site ORDER BY path COLLATE "C", site COLLATE "C") AS sites,
		array_agg(count ORDER BY path COLLATE "C", site COLLATE "C") AS counts
	FROM install_crash GROUP BY install_key) AS c
WHERE s.install_key = c.install_key;
DROP TABLE install_counter;
DROP TABLE install_crash;
