-- 3: bounds on what one install and one address may add in a day,
-- and the receiver's own health figures. install_day and source_day
-- hold only the current day (pruned after it), under keyed hashes;
-- source_salt is the day's random salt of the address hashes, dropped
-- with them so that no hash can be linked to an address afterwards.
-- receiver_health is per UTC hour, so an alert can read an hour; its
-- rows are spread over shards so that concurrent uploads do not queue
-- on one row.
CREATE TABLE install_day (
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
	);
