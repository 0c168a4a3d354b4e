-- The counters of a statement: calls, rows, times, blocks, WAL, CPU, and
-- the columns that say who ran it, where and when.  Each is compared with
-- something measured apart: the rows a statement really returned or
-- changed, the pages of a table, the core's own EXPLAIN (ANALYZE, BUFFERS),
-- the WAL position, sleeps of known length and the wall clock around them.
-- A statement's rows are added up over buckets, since a bucket may end in
-- the middle of the test.
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE cnt (a int, b text);
INSERT INTO cnt SELECT i, repeat('x', 100) FROM generate_series(1, 1000) i;
-- the core's count of buffers and temporary blocks, for one statement
CREATE FUNCTION cnt_explain(q text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    r json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON, TIMING OFF, COSTS OFF, SUMMARY OFF) '
        || q INTO r;
    RETURN r -> 0 -> 'Plan';
END $$;
-- warm the caches, so that planning the statements below reads no catalog
SELECT count(*) FROM cnt WHERE a > 0;
SELECT count(*) FROM (SELECT * FROM cnt ORDER BY b, a DESC OFFSET 0) s;
SELECT pg_stat_monitor_reset();

SELECT clock_timestamp() AS t0, pg_current_wal_insert_lsn() AS lsn0 \gset
INSERT INTO cnt SELECT i, repeat('x', 100) FROM generate_series(1001, 2000) i;
SELECT pg_current_wal_insert_lsn() AS lsn1 \gset
SELECT count(*) FROM cnt WHERE a > 10;
SELECT count(*) FROM cnt WHERE a > 20;
SELECT count(*) FROM cnt WHERE a > 30;
SELECT a FROM cnt WHERE a <= 5 ORDER BY a;
CREATE TEMP TABLE cnt_tmp AS SELECT * FROM cnt;
UPDATE cnt_tmp SET a = a + 1;
SET work_mem = '64kB';
SELECT count(*) FROM (SELECT * FROM cnt ORDER BY b, a DESC OFFSET 0) s;
RESET work_mem;
SELECT pg_sleep(0.02);
SELECT pg_sleep(0.05);
SELECT clock_timestamp() AS t1 \gset
SET work_mem = '64kB';
SELECT cnt_explain('SELECT count(*) FROM (SELECT * FROM cnt ORDER BY b, a DESC OFFSET 0) s')
    AS sort_plan \gset
RESET work_mem;

CREATE TEMP VIEW cnt_sums AS
SELECT query, sum(calls) AS calls, sum(rows) AS rows,
       sum(total_exec_time) AS total, min(min_exec_time) AS min,
       max(max_exec_time) AS max,
       -- the standard deviation over all buckets, from each bucket's
       sqrt(sum(calls * (stddev_exec_time ^ 2 + mean_exec_time ^ 2)) / sum(calls)
            - (sum(total_exec_time) / sum(calls)) ^ 2) AS stddev,
       sum(shared_blks_hit + shared_blks_read) AS shared,
       sum(local_blks_hit + local_blks_read) AS local,
       sum(temp_blks_read) AS temp_read, sum(temp_blks_written) AS temp_written,
       sum(wal_records) AS wal_records, sum(wal_bytes) AS wal_bytes,
       count(*) AS parts
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%' AND query NOT LIKE '%cnt_explain%'
  AND query NOT LIKE '%cnt_sums%'
GROUP BY query;

-- rows: as many as each statement returned or changed
SELECT query, calls, rows FROM cnt_sums
WHERE query LIKE '%cnt%' OR query LIKE '%pg_sleep%'
ORDER BY query COLLATE "C";
SELECT (SELECT rows FROM cnt_sums WHERE query LIKE 'UPDATE cnt_tmp%')
         = (SELECT count(*) FROM cnt_tmp) AS update_rows,
       (SELECT rows FROM cnt_sums WHERE query LIKE 'CREATE TEMP TABLE%')
         = (SELECT count(*) FROM cnt) AS ctas_rows;

-- times: every statement took no longer than the wall clock around them
-- all; each sleep at least as long as asked; the two sleeps' minimum,
-- maximum, mean and deviation agree
SELECT sum(total) <= extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz) * 1000
         AS within_wall_clock,
       bool_and(min <= max AND min > 0) AS min_le_max
FROM cnt_sums WHERE query LIKE '%cnt%' OR query LIKE '%pg_sleep%';
SELECT min >= 20 AS min_slept, max >= 50 AS max_slept, total >= 70 AS total_slept,
       abs(total - (min + max)) < 0.01 AS total_is_min_plus_max,
       abs(stddev - (max - min) / 2) < 0.01 AS stddev_of_two
FROM cnt_sums WHERE query = 'SELECT pg_sleep($1)';

-- blocks: a sequential scan reads each page of the table once; the sort
-- counts what the core counts for it; the temporary table's blocks are
-- local; the insert's WAL is within what the server wrote meanwhile
SELECT shared = calls * (pg_relation_size('cnt') / current_setting('block_size')::int)
         AS one_read_per_page, local = 0 AS no_local
FROM cnt_sums WHERE query = 'SELECT count(*) FROM cnt WHERE a > $1';
SELECT temp_written > 0 AS sort_spilled,
       temp_written = (:'sort_plan'::json ->> 'Temp Written Blocks')::int8 AS temp_written_as_core,
       temp_read = (:'sort_plan'::json ->> 'Temp Read Blocks')::int8 AS temp_read_as_core,
       shared = (:'sort_plan'::json ->> 'Shared Hit Blocks')::int8
                + (:'sort_plan'::json ->> 'Shared Read Blocks')::int8 AS shared_as_core
FROM cnt_sums WHERE query LIKE '%ORDER BY b, a DESC%';
SELECT local >= pg_relation_size('cnt_tmp') / current_setting('block_size')::int
         AS local_covers_table
FROM cnt_sums WHERE query LIKE 'UPDATE cnt_tmp%';
SELECT wal_records >= 1000 AS a_record_per_row,
       wal_bytes > 0 AND wal_bytes <= pg_wal_lsn_diff(:'lsn1', :'lsn0') AS wal_bytes_within
FROM cnt_sums WHERE query LIKE 'INSERT INTO cnt%';

-- who, where and when: each row's bucket overlaps the time the
-- statements ran
SELECT setting AS bucket_time FROM pg_settings WHERE name = 'pg_stat_monitor.pgsm_bucket_time' \gset
SELECT bool_and(username = current_user) AS user_ok,
       bool_and(userid = (SELECT oid FROM pg_roles WHERE rolname = current_user)) AS userid_ok,
       bool_and(datname = current_database()) AS db_ok,
       bool_and(dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS dbid_ok,
       bool_and(client_ip = inet '127.0.0.1') AS unix_socket,
       bool_and(bucket_start_time = to_timestamp(bucket * :bucket_time)) AS bucket_is_absolute,
       bool_and(bucket_start_time <= :'t1'
                AND :'t0' < bucket_start_time + make_interval(secs => :bucket_time)) AS its_bucket,
       bool_and(top_queryid IS NULL AND planid IS NULL AND sqlcode IS NULL
                AND message IS NULL AND top_query IS NULL) AS nulls_ok
FROM pg_stat_monitor_live WHERE query = 'SELECT count(*) FROM cnt WHERE a > $1';

-- CPU time is measured: a statement that computes for a while uses some
SELECT count(*) FROM generate_series(1, 2000000);
SELECT sum(cpu_user_time + cpu_sys_time) > 0 AS cpu_used,
       sum(cpu_user_time + cpu_sys_time) <= sum(total_exec_time) * 1.5 + 10 AS cpu_plausible
FROM pg_stat_monitor_live WHERE query = 'SELECT count(*) FROM generate_series($1, $2)';

DROP VIEW cnt_sums;
DROP FUNCTION cnt_explain(text);
DROP TABLE cnt;

-- The CPU times of a backend's top-level statements add up to the CPU time
-- the kernel gives for the backend (in /proc, in hundredths of a second),
-- whichever statements read it: here, with a 1 s interval, most read none.
-- The first statement reads at its start; the last, more than the interval
-- after any other, reads at its end.
SELECT current_user AS su \gset
CREATE ROLE pgsm_cpu_chain LOGIN;
GRANT pg_read_server_files TO pgsm_cpu_chain;
GRANT EXECUTE ON FUNCTION pg_read_file(text) TO pgsm_cpu_chain;
ALTER ROLE pgsm_cpu_chain SET pg_stat_monitor.pgsm_cpu_time_interval = '1s';
\c - pgsm_cpu_chain
SELECT split_part(pg_read_file('/proc/self/stat'), ') ', 2) AS stat0 \gset
SELECT count(*) FROM generate_series(1, 3000000);
SELECT 1;
SELECT count(*) FROM generate_series(1, 3000000);
SELECT 2, 3;
SELECT pg_sleep(1.1);
SELECT split_part(pg_read_file('/proc/self/stat'), ') ', 2) AS stat1 \gset
\c - :su
-- fields 14 and 15 of the line, user and system time
SELECT s.chain > 100 AS cpu_used, abs(s.chain - p.proc) <= 40 AS chain_adds_up
FROM (SELECT sum(cpu_user_time + cpu_sys_time) AS chain
      FROM pg_stat_monitor_live WHERE username = 'pgsm_cpu_chain') s,
     (SELECT 10 * (split_part(:'stat1', ' ', 12)::int + split_part(:'stat1', ' ', 13)::int
                   - split_part(:'stat0', ' ', 12)::int - split_part(:'stat0', ' ', 13)::int) AS proc) p;
DROP OWNED BY pgsm_cpu_chain;
DROP ROLE pgsm_cpu_chain;
DROP EXTENSION pg_stat_monitor;
