-- The read-only role Grafana's PostgreSQL data source uses for
-- pace-telemetry-postgres.json and alerts/, least privilege: SELECT on the
-- tables and columns the panels read, nothing else. Not granted: the ids'
-- key fingerprints (id_key), per-install state and counts (install_state),
-- and
-- the bounds' state of the day (install_day, source_day, source_salt):
-- with the day's salt a reader could test addresses against their hashes.
--
-- Run it as the receiver's database role (the tables' owner), after the
-- receiver has created the schema, in the receiver's database:
--   psql "$DSN" -f grafana-role.sql
-- then give the role a password (\password pace_grafana), or on Cloud SQL
-- create the user first (gcloud sql users create pace_grafana ...); the
-- script keeps an existing role. Run it again after a receiver upgrade
-- that adds tables (docs/postgresql.md, "The dashboard's role").
DO $$
BEGIN
	CREATE ROLE pace_grafana LOGIN;
EXCEPTION WHEN duplicate_object THEN
	NULL;
END $$;
GRANT USAGE ON SCHEMA public TO pace_grafana;
GRANT SELECT ON usage_daily, active_daily, command_daily, command_path,
	activity_rollup, installs_rollup, retention_rollup, command_rollup,
	crash_daily, crash_rollup, receiver_health TO pace_grafana;
-- Monthly active installs of the days not yet rolled up count installs by
-- their last upload's day; not the time of it.
GRANT SELECT (install_key, last_day) ON install_state TO pace_grafana;
-- The panels are short queries over indexes: compiling them (JIT), which
-- PostgreSQL starts on cost estimates these queries exceed, cost up to
-- 0.7 s of a 1 s panel at fleet size and saved nothing (bench/panels.sh).
ALTER ROLE pace_grafana SET jit = off;
