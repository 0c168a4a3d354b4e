-- The counters of a statement: calls, rows, times, blocks, WAL, CPU, and
-- the columns that say who ran it, where and when
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE cnt (a int, b text);
SELECT pg_stat_monitor_reset();

INSERT INTO cnt SELECT i, repeat('x', 100) FROM generate_series(1, 1000) i;
SELECT count(*) FROM cnt WHERE a > 10;
SELECT count(*) FROM cnt WHERE a > 20;
SELECT count(*) FROM cnt WHERE a > 30;
CREATE TEMP TABLE cnt_tmp AS SELECT * FROM cnt;
UPDATE cnt_tmp SET a = a + 1;
SET work_mem = '64kB';
SELECT count(*) FROM (SELECT * FROM cnt ORDER BY b, a DESC OFFSET 0) s;
RESET work_mem;

SELECT query, calls, rows,
       total_exec_time >= 0 AND min_exec_time <= mean_exec_time
         AND mean_exec_time <= max_exec_time
         AND abs(total_exec_time - mean_exec_time * calls) < 0.001 AS times_ok,
       stddev_exec_time >= 0 AS stddev_ok,
       calls > 1 OR stddev_exec_time = 0 AS stddev_consistent,
       shared_blks_hit + shared_blks_read > 0 AS shared,
       CASE WHEN query LIKE '%cnt_tmp%'
            THEN local_blks_hit + local_blks_read + local_blks_written > 0 END AS local,
       CASE WHEN query LIKE '%ORDER BY%' THEN temp_blks_written > 0 END AS temp,
       CASE WHEN query LIKE 'INSERT%'
            THEN wal_records > 0 AND wal_bytes > 0 END AS wal,
       cpu_user_time >= 0 AND cpu_sys_time >= 0 AS cpu
FROM pg_stat_monitor_live
WHERE query LIKE '%cnt%' AND query NOT LIKE '%pg_stat_monitor%'
ORDER BY query COLLATE "C";

-- who, where and when
SELECT username = current_user AS user_ok,
       userid = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS userid_ok,
       datname = current_database() AS db_ok,
       dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AS dbid_ok,
       client_ip IS NULL AS unix_socket,
       bucket_start_time = to_timestamp(bucket * 60) AS bucket_is_absolute,
       bucket_start_time <= now() AND now() < bucket_start_time + interval '60 s' AS current_bucket,
       NOT bucket_done AS in_progress,
       top_queryid IS NULL AND planid IS NULL AND sqlcode IS NULL
         AND message IS NULL AND top_query IS NULL AS nulls_ok
FROM pg_stat_monitor_live WHERE query = 'SELECT count(*) FROM cnt WHERE a > $1';

-- CPU time is measured: a statement that computes for a while uses some
SELECT count(*) FROM generate_series(1, 2000000);
SELECT cpu_user_time + cpu_sys_time > 0 AS cpu_used,
       cpu_user_time + cpu_sys_time <= total_exec_time * 1.5 + 10 AS cpu_plausible
FROM pg_stat_monitor_live WHERE query = 'SELECT count(*) FROM generate_series($1, $2)';

DROP TABLE cnt;
DROP EXTENSION pg_stat_monitor;
