-- 9: the indexes the panels need at fleet size (docs/deploy.md,
-- "Panels at fleet size"). By (path, install_key, day): the distinct
-- installs of each command in a range are read in order from the
-- index, without sorting a month of rows. By (install_key, day): the
-- monthly active installs of a day not yet rolled up look up the days
-- of the installs active after it; erasure and key rotation find an
-- install's activity without a scan. The statistics tell the planner
-- how many (path, install) pairs a range holds: guessing a quarter of
-- them, it hashed them instead, spilling to disk (1.8 s, not 0.6 s).
CREATE INDEX command_daily_reach ON command_daily (path, install_key, day);
	CREATE INDEX active_daily_install ON active_daily (install_key, day);
	CREATE STATISTICS command_daily_reach (ndistinct) ON path, install_key FROM command_daily;
