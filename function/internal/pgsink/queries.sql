-- The PostgreSQL store's statements, each under "-- name: NAME" and
-- read by name (query, queries.go). The schema is in migrations/, the
-- functions in functions.sql; statements built in Go (a table named at
-- run time) stay there.

-- name: delete_refused_installs
-- The batch's new installs that no upload of it was admitted for (their
-- address over its bound).
DELETE FROM install_state WHERE install_key = ANY($1::bytea[]);

-- name: lock_installs
-- The batch's stored installs, locked in key order until commit, and their
-- state.
SELECT install_key, counter_paths, counter_codes, counter_counts, crash_paths, crash_sites, crash_counts,
        coalesce(commands_day::text, ''), commands, commands_failed
    FROM install_state WHERE install_key = ANY($1::bytea[]) ORDER BY install_key FOR UPDATE;

-- name: insert_new_installs
-- The batch's new installs, inserted (and so locked); one another batch
-- stored meanwhile is left as it is.
INSERT INTO install_state (install_key, last_received, last_day)
    SELECT k, r, d::date FROM unnest($1::bytea[], $2::timestamptz[], $3::text[]) AS t(k, r, d)
    ON CONFLICT (install_key) DO NOTHING;

-- name: counted_runs
-- The runs counted so far per (day, install) of the batch.
SELECT day::text, install_key, counted FROM install_day WHERE (day, install_key) IN (SELECT d::date, k FROM unnest($1::text[], $2::bytea[]) AS t(d, k));

-- name: counted_runs_of_day
-- The runs counted so far on one day by the batch's installs.
SELECT day::text, install_key, counted FROM install_day WHERE day = $1::date AND install_key = ANY($2::bytea[]);

-- name: lock_sources
-- The day's rows of the addresses bringing new installs, made at 0 if new,
-- locked until commit.
INSERT INTO source_day AS d (day, source_key, new_installs) SELECT d::date, k, 0 FROM unnest($1::text[], $2::bytea[]) AS t(d, k)
    ON CONFLICT (day, source_key) DO UPDATE SET new_installs = d.new_installs RETURNING day::text, source_key, new_installs;

-- name: add_new_installs
-- New installs admitted per day and address.
UPDATE source_day AS d SET new_installs = d.new_installs + t.n FROM unnest($1::text[], $2::bytea[], $3::int[]) AS t(d, k, n)
    WHERE d.day = t.d::date AND d.source_key = t.k;

-- name: write_installs
-- Each install's row once: its latest upload's time and day, and its counts
-- as slices of flat arrays (1-based, inclusive).
UPDATE install_state AS s SET
        last_received = greatest(s.last_received, t.r), last_day = greatest(s.last_day, t.d::date),
        counter_paths = ($11::text[])[t.clo:t.chi], counter_codes = ($12::int[])[t.clo:t.chi], counter_counts = ($13::bigint[])[t.clo:t.chi],
        crash_paths = ($14::text[])[t.xlo:t.xhi], crash_sites = ($15::text[])[t.xlo:t.xhi], crash_counts = ($16::bigint[])[t.xlo:t.xhi],
        commands_day = nullif(t.md, '')::date, commands = ($17::text[])[t.mlo:t.mhi], commands_failed = ($18::bool[])[t.mlo:t.mhi]
    FROM unnest($1::bytea[], $2::timestamptz[], $3::text[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[], $9::int[], $10::text[])
        AS t(k, r, d, clo, chi, xlo, xhi, mlo, mhi, md)
    WHERE s.install_key = t.k;

-- name: add_counted_runs
-- Runs counted per day and install.
INSERT INTO install_day AS d (day, install_key, counted) SELECT t.d::date, t.k, t.n FROM unnest($1::text[], $2::bytea[], $3::bigint[]) AS t(d, k, n)
    ON CONFLICT (day, install_key) DO UPDATE SET counted = d.counted + excluded.counted;

-- name: write_active
-- Each install's activity of the day: the version and system of its latest
-- upload.
INSERT INTO active_daily AS a (day, install_key, cli_version, os, last_at) SELECT t.d::date, t.k, t.v, t.o, t.l FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::timestamptz[]) AS t(d, k, v, o, l)
    ON CONFLICT (day, install_key) DO UPDATE SET cli_version = excluded.cli_version, os = excluded.os, last_at = excluded.last_at
    WHERE a.last_at <= excluded.last_at;

-- name: add_crashes
-- Crashes per day, command, version, site and install.
INSERT INTO crash_daily AS c (day, path, cli_version, site, install_key, crashes) SELECT t.d::date, t.p, t.v, t.s, t.k, t.n FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bigint[]) AS t(d, p, v, s, k, n)
    ON CONFLICT (day, path, cli_version, site, install_key) DO UPDATE SET crashes = c.crashes + excluded.crashes;

-- name: add_usage
-- Runs per day, command, exit code, version and system.
INSERT INTO usage_daily AS u (day, path, exit_code, cli_version, os, runs) SELECT t.d::date, t.p, t.c, t.v, t.o, t.n FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[]) AS t(d, p, c, v, o, n)
    ON CONFLICT (day, path, exit_code, cli_version, os) DO UPDATE SET runs = u.runs + excluded.runs;

-- name: keep_commands
-- The allow-list: paths no longer on it go.
DELETE FROM command_path WHERE path <> ALL($1::text[]);

-- name: add_commands
-- The allow-list: its paths.
INSERT INTO command_path SELECT unnest($1::text[]) ON CONFLICT DO NOTHING;

-- name: command_rows_failed
-- command_daily rows with a failed run: the flag set where it is not yet.
INSERT INTO command_daily AS c (day, path, cli_version, install_key, failed)
    SELECT t.d::date, t.p, t.v, t.k, true FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS t(d, p, v, k)
    ON CONFLICT (day, path, cli_version, install_key) DO UPDATE SET failed = true WHERE NOT c.failed;

-- name: command_rows_ran
-- command_daily rows of runs that did not fail, where none is (DO NOTHING
-- takes no row lock).
INSERT INTO command_daily AS c (day, path, cli_version, install_key, failed)
    SELECT t.d::date, t.p, t.v, t.k, false FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS t(d, p, v, k)
    ON CONFLICT (day, path, cli_version, install_key) DO NOTHING;

-- name: new_salt
-- The day's salt of the address hashes, made by whichever instance needs it
-- first.
WITH ins AS (INSERT INTO source_salt (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING RETURNING salt)
    SELECT salt FROM ins UNION ALL SELECT salt FROM source_salt WHERE day = $1 LIMIT 1;

-- name: salt
-- The day's salt, made by another instance.
SELECT salt FROM source_salt WHERE day = $1;

-- name: add_health
-- Uploads (and runs) of an outcome in an hour, on a shard.
INSERT INTO receiver_health AS h (hour, outcome, reason, shard, uploads, runs) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (hour, outcome, reason, shard) DO UPDATE SET uploads = h.uploads + excluded.uploads, runs = h.runs + excluded.runs;

-- name: keyed_tables
-- The tables with an install_key column.
SELECT c.table_name::text FROM information_schema.columns c
    JOIN information_schema.tables t USING (table_schema, table_name)
    WHERE c.table_schema = current_schema() AND c.column_name = 'install_key' AND t.table_type = 'BASE TABLE'
    ORDER BY 1;

-- name: state_columns
-- install_state's columns other than install_key.
SELECT column_name::text FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'install_state' AND column_name <> 'install_key' ORDER BY ordinal_position;

-- name: add_key_fingerprint
-- The key's fingerprint, and when a receiver first used it.
INSERT INTO id_key (fingerprint) VALUES ($1) ON CONFLICT DO NOTHING;

-- name: erase_lock_install
-- An install's row lock taken as an upload takes it (the row made if
-- absent, deleted with the rest).
INSERT INTO install_state AS s (install_key, last_received, last_day) VALUES ($1, now(), current_date)
    ON CONFLICT (install_key) DO UPDATE SET last_day = s.last_day RETURNING xmax = 0;

-- name: lock_install_keys
-- An install's rows under each of its keys, locked.
SELECT 1 FROM install_state WHERE install_key = ANY($1) FOR UPDATE;

-- name: install_exists
-- Whether an install is stored under a key.
SELECT EXISTS (SELECT 1 FROM install_state WHERE install_key = $1);

-- name: lock_install
-- An install's row under a key, locked.
SELECT 1 FROM install_state WHERE install_key = $1 FOR UPDATE;

-- name: delete_install
-- An install's row under a key.
DELETE FROM install_state WHERE install_key = $1;

-- name: old_key_states
-- Installs not stored since a receiver first used the current key.
SELECT count(*) FROM install_state
    WHERE last_received < (SELECT first_used FROM id_key WHERE fingerprint = $1);

-- name: rollup_days
-- The per-day rollups of each day not yet rolled up (rollup.go).
WITH bounds AS (
        SELECT coalesce((SELECT max(day) + 1 FROM activity_rollup), (SELECT min(day) FROM active_daily)) AS first,
            $1::date - 2 AS last
    ), todo AS (
        SELECT g.d::date AS day FROM bounds, generate_series(bounds.first, bounds.last, interval '1 day') AS g(d)
        WHERE bounds.first IS NOT NULL
    ), a AS (
        INSERT INTO activity_rollup (day, dau, wau, mau)
        SELECT todo.day,
            (SELECT count(*) FROM active_daily WHERE day = todo.day),
            (SELECT count(DISTINCT install_key) FROM active_daily WHERE day > todo.day - 7 AND day <= todo.day),
            (SELECT count(DISTINCT install_key) FROM active_daily WHERE day > todo.day - 30 AND day <= todo.day)
        FROM todo
        ON CONFLICT (day) DO NOTHING
    ), k AS (
        INSERT INTO crash_rollup (day, path, cli_version, site, installs, crashes)
        SELECT day, path, cli_version, site, count(DISTINCT install_key), sum(crashes) FROM crash_daily
        WHERE day IN (SELECT day FROM todo)
        GROUP BY 1, 2, 3, 4
        ON CONFLICT (day, path, cli_version, site) DO NOTHING
    ), c AS (
        INSERT INTO command_rollup (day, path, installs)
        SELECT day, path, count(DISTINCT install_key) FROM command_daily
        WHERE day IN (SELECT day FROM todo)
        GROUP BY 1, 2
        ON CONFLICT (day, path) DO NOTHING
    )
    INSERT INTO installs_rollup (day, cli_version, os, installs)
    SELECT day, cli_version, os, count(*) FROM active_daily
    WHERE day IN (SELECT day FROM todo)
    GROUP BY 1, 2, 3
    ON CONFLICT (day, cli_version, os) DO NOTHING;

-- name: rollup_weeks
-- Week-over-week retention of each week not yet rolled up (rollup.go).
WITH bounds AS (
        SELECT coalesce((SELECT max(week) + 7 FROM retention_rollup), date_trunc('week', (SELECT min(day) FROM active_daily))::date) AS first,
            date_trunc('week', $1::date - 2 - 6)::date AS last
    )
    INSERT INTO retention_rollup (week, previous, retained)
    SELECT w, count(p.install_key), count(c.install_key)
    FROM bounds, generate_series(bounds.first, bounds.last, interval '7 days') AS g(d)
        CROSS JOIN LATERAL (SELECT g.d::date AS w) ww
        -- The week before's installs and this week's, each once, joined
        -- by hash: one pass over each week's rows, not a lookup per row.
        LEFT JOIN LATERAL (SELECT DISTINCT install_key FROM active_daily WHERE day >= w - 7 AND day < w) p ON true
        LEFT JOIN LATERAL (SELECT DISTINCT install_key FROM active_daily WHERE day >= w AND day < w + 7) c ON c.install_key = p.install_key
    WHERE bounds.first IS NOT NULL
    GROUP BY w
    ON CONFLICT (week) DO NOTHING;

-- name: schema_version_table
-- The versions of the schema applied.
CREATE TABLE IF NOT EXISTS schema_version (
        version    integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
    );

-- name: schema_version
-- The schema's version.
SELECT coalesce(max(version), 0) FROM schema_version;

-- name: record_version
-- A version applied.
INSERT INTO schema_version (version) VALUES ($1);

-- name: advisory_lock
-- An advisory lock of the session: one instance migrates at a time.
SELECT pg_advisory_lock($1);

-- name: advisory_unlock
SELECT pg_advisory_unlock($1);

-- name: advisory_xact_lock
-- An advisory lock until commit: one instance at a time writes the
-- allow-list, or rolls up and prunes.
SELECT pg_advisory_xact_lock($1);

-- The daily prune (Prune). The bounds' state of past days, and the salt
-- of their address hashes ($1: today):

-- name: prune_install_day
DELETE FROM install_day WHERE day < $1;

-- name: prune_source_day
DELETE FROM source_day WHERE day < $1;

-- name: prune_source_salt
DELETE FROM source_salt WHERE day < $1;

-- Per-install activity past TELEMETRY_PG_ACTIVITY_DAYS ($1: its first
-- day kept), rolled up before:

-- name: prune_active_daily
DELETE FROM active_daily WHERE day < $1;

-- name: prune_command_daily
DELETE FROM command_daily WHERE day < $1;

-- name: prune_state_commands
-- An install's list of its command_daily rows of a day, with them.
UPDATE install_state SET commands_day = NULL, commands = '{}', commands_failed = '{}' WHERE commands_day < $1;

-- name: prune_crash_daily
DELETE FROM crash_daily WHERE day < $1;

-- Aggregates and rollups past TELEMETRY_PG_RETENTION_DAYS ($1: the first
-- day kept):

-- name: prune_crash_rollup
DELETE FROM crash_rollup WHERE day < $1;

-- name: prune_usage_daily
DELETE FROM usage_daily WHERE day < $1;

-- name: prune_activity_rollup
DELETE FROM activity_rollup WHERE day < $1;

-- name: prune_installs_rollup
DELETE FROM installs_rollup WHERE day < $1;

-- name: prune_command_rollup
DELETE FROM command_rollup WHERE day < $1;

-- name: prune_retention_rollup
DELETE FROM retention_rollup WHERE week < $1;

-- name: prune_receiver_health
DELETE FROM receiver_health WHERE hour < $1;

-- name: prune_install_state
-- Installs idle past TELEMETRY_PG_IDLE_DAYS ($1: the first day kept),
-- their install_day rows with them (foreign key).
DELETE FROM install_state WHERE last_day < $1;
