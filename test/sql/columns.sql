-- pg_stat_monitor has upstream pg_stat_monitor's columns for the server's
-- version, in its order and with its types, as pgsm_view_columns() gives
-- them: 65 on PostgreSQL 15, 71 on 17, 74 on 18.  Expected outputs:
-- columns.out (15), columns_1.out (17), columns_2.out (18); each shows its
-- major version first, so that no version passes with another's columns.
CREATE EXTENSION pg_stat_monitor;
SELECT current_setting('server_version_num')::int / 10000 AS major;
SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_attribute a
WHERE a.attrelid = 'pg_stat_monitor'::regclass AND a.attnum > 0
ORDER BY a.attnum;

-- the live view and history have the same columns
SELECT c.relname, count(*) AS columns,
       count(*) FILTER (WHERE (a.attnum, a.attname, a.atttypid) IN
           (SELECT m.attnum, m.attname, m.atttypid FROM pg_attribute m
            WHERE m.attrelid = 'pg_stat_monitor'::regclass)) AS as_pg_stat_monitor
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relname IN ('pg_stat_monitor_live', 'pg_stat_monitor_history')
  AND a.attnum > 0
GROUP BY c.relname ORDER BY c.relname;

-- Each column of the later versions has a real value there (NULL where the
-- version does not have the column): local block I/O times (temporary
-- tables that do not fit in temp_buffers), JIT tuple deforming (where JIT
-- is installed: Debian packages 18's apart, in postgresql-18-jit, which the
-- test chroot does not have), stats_since.  The parallel workers are in the
-- parallel test.
SET temp_buffers = 100;
SET track_io_timing = on;
SET max_parallel_workers_per_gather = 0;
SELECT pg_stat_monitor_reset();
CREATE TEMP TABLE tt AS SELECT g AS a FROM generate_series(1, 50000) g;
SET jit = on;
SET jit_above_cost = 0;
SET jit_inline_above_cost = -1;
SET jit_optimize_above_cost = -1;
SELECT sum(a) FROM tt;
RESET jit;
RESET jit_above_cost;
RESET jit_inline_above_cost;
RESET jit_optimize_above_cost;

SELECT l.query,
       (j ->> 'local_blk_write_time')::float8 > 0 AS local_write_time,
       (j ->> 'local_blk_read_time')::float8 > 0 AS local_read_time,
       (j ->> 'jit_deform_count')::int8 > 0 AS jit_deform,
       (j ->> 'jit_deform_time')::float8 > 0 AS jit_deform_time,
       (j ->> 'stats_since')::timestamptz <= now() AS since,
       j -> 'minmax_stats_since' = j -> 'stats_since' AS minmax_since,
       (j ->> 'wal_buffers_full')::int8 >= 0 AS wal_buffers_full
FROM pg_stat_monitor_live l, to_jsonb(l) j
WHERE l.query LIKE '%tt%' AND l.query NOT LIKE '%pg_stat_monitor%'
ORDER BY l.query COLLATE "C";

-- The store and the exporter give every column on every version, NULL
-- where the version does not measure it
SELECT count(*) FILTER (WHERE local_blk_read_time IS NOT NULL) > 0 AS local_blk_times,
       count(*) FILTER (WHERE jit_deform_count IS NOT NULL) > 0 AS jit_deform,
       count(*) FILTER (WHERE stats_since IS NOT NULL) > 0 AS stats_since,
       count(*) FILTER (WHERE wal_buffers_full IS NOT NULL) > 0 AS wal_buffers_full,
       count(*) FILTER (WHERE parallel_workers_launched IS NOT NULL) > 0 AS parallel_workers
FROM pg_stat_monitor_internal(true);

-- After pg_upgrade from an earlier version, the views keep that version's
-- columns until pgsm_create_views() gives them the new version's; history
-- is readable either way
SELECT pgsm_create_views(150000);
SELECT count(*) AS columns_of_15 FROM pg_attribute
WHERE attrelid = 'pg_stat_monitor'::regclass AND attnum > 0;
SELECT count(*) >= 0 AS readable FROM pg_stat_monitor_history;
SELECT count(*) > 0 AS live_readable FROM pg_stat_monitor_live;
SELECT pgsm_create_views();
SELECT count(*) = (SELECT count(*) FROM pgsm_view_columns()) AS columns_of_this_version
FROM pg_attribute
WHERE attrelid = 'pg_stat_monitor'::regclass AND attnum > 0;
-- still members of the extension, with their privileges
SELECT c.relname, c.relacl
FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_stat_monitor')
  AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass
  AND c.relname IN ('pg_stat_monitor', 'pg_stat_monitor_live', 'pg_stat_monitor_history')
ORDER BY c.relname;

DROP TABLE tt;
RESET ALL;
DROP EXTENSION pg_stat_monitor;
