-- 11: room on each page for the new version of a row updated in place
-- (group commit, docs/postgresql.md): an install's state, its day's
-- counted runs and its activity row are rewritten by each of its
-- uploads, and the daily aggregates by each batch, without changing an
-- indexed column. With free space on the row's page, PostgreSQL writes
-- the new version there (a heap-only tuple) and adds no index entry; at
-- the default fill of 100 % the page is full, and every update writes a
-- new entry in each index of the table. Pages written from now on keep
-- the room; older ones as they are rewritten.
ALTER TABLE install_state SET (fillfactor = 80);
ALTER TABLE install_day SET (fillfactor = 80);
ALTER TABLE active_daily SET (fillfactor = 80);
ALTER TABLE usage_daily SET (fillfactor = 80);
ALTER TABLE receiver_health SET (fillfactor = 80);
