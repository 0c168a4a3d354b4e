-- pg_stat_monitor_info: the store's size, what is in use, what was folded,
-- and when the statistics were last reset
CREATE EXTENSION pg_stat_monitor;
SELECT pg_stat_monitor_reset();
SELECT now() AS reset_after \gset

SELECT size, entries_max > 1000 AS entries_max_ok, entries, text_bytes_max > 0 AS text_ok,
       calls_folded, entries_folded, calls_lost
FROM pg_stat_monitor_info;

SELECT stats_reset <= now() AS reset_in_past FROM pg_stat_monitor_info;
SELECT pg_sleep(0.01);
SELECT pg_stat_monitor_reset();
SELECT stats_reset > :'reset_after' AS reset_time_moved FROM pg_stat_monitor_info;

-- entries and texts in use follow what the view shows
CREATE TABLE inf (a int);
SELECT count(*) FROM inf;
SELECT i.entries = (SELECT count(*) FROM pg_stat_monitor_live) AS entries_match,
       i.text_bytes >= (SELECT sum(length(query)) FROM pg_stat_monitor_live) AS texts_counted
FROM pg_stat_monitor_info i;

-- the view's columns
SELECT attname, format_type(atttypid, atttypmod)
FROM pg_attribute WHERE attrelid = 'pg_stat_monitor_info'::regclass AND attnum > 0
ORDER BY attnum;

DROP TABLE inf;
DROP EXTENSION pg_stat_monitor;
