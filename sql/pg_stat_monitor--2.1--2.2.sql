/* pg_stat_monitor--2.1--2.2.sql: pg_stat_monitor served from history */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_stat_monitor UPDATE TO '2.2'" to load this file. \quit

-- Start of the oldest bucket pg_stat_monitor shows: the last
-- pg_stat_monitor.pgsm_max_buckets buckets, the current one included.
CREATE FUNCTION pgsm_window_start()
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT to_timestamp((floor(extract(epoch FROM now()) / s.bt) - s.nb + 1) * s.bt)
    FROM (SELECT @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_bucket_time') AS bt,
                 current_setting('pg_stat_monitor.pgsm_max_buckets')::int AS nb) s
$$;

-- All of history, with pg_stat_monitor's columns.  A bucket exported in
-- several parts (early flushes) is added back together here: counts and
-- times are summed, minima and maxima kept, means and standard deviations
-- recomputed from the parts' sums of squares, histograms summed cell by
-- cell.  Grouping by the columns of an entry's key, bucket_start_time
-- first, lets a condition on bucket_start_time reach the partitions.
CREATE VIEW pg_stat_monitor_history AS
SELECT
    d.bucket,
    d.bucket_start_time,
    d.userid,
    max(d.username) AS username,
    d.dbid,
    max(d.datname) AS datname,
    d.client_ip,
    max(d.pgsm_query_id) AS pgsm_query_id,
    d.queryid,
    d.toplevel,
    d.top_queryid,
    (SELECT t.text FROM @extschema@.pg_stat_monitor_texts t
     WHERE t.text_id = min(d.query_text_id)) AS query,
    max(d.comments) AS comments,
    d.planid,
    (SELECT t.text FROM @extschema@.pg_stat_monitor_texts t
     WHERE t.text_id = min(d.plan_text_id)) AS query_plan,
    (SELECT t.text FROM @extschema@.pg_stat_monitor_texts t
     WHERE t.text_id = min(d.top_query_text_id)) AS top_query,
    d.application_name,
    max(d.relations) AS relations,
    max(d.cmd_type) AS cmd_type,
    @extschema@.get_cmd_type(max(d.cmd_type)) AS cmd_type_text,
    d.elevel,
    d.sqlcode,
    max(d.message) AS message,
    sum(d.calls)::int8 AS calls,
    sum(d.total_exec_time) AS total_exec_time,
    coalesce(min(d.min_exec_time) FILTER (WHERE d.calls > 0), 0) AS min_exec_time,
    coalesce(max(d.max_exec_time) FILTER (WHERE d.calls > 0), 0) AS max_exec_time,
    coalesce(sum(d.total_exec_time) / nullif(sum(d.calls), 0), 0) AS mean_exec_time,
    coalesce(sqrt(greatest(0,
        (sum(d.sum_var_exec_time)
         + sum(d.total_exec_time ^ 2 / d.calls) FILTER (WHERE d.calls > 0)
         - sum(d.total_exec_time) ^ 2 / nullif(sum(d.calls), 0))
        / nullif(sum(d.calls), 0))), 0) AS stddev_exec_time,
    sum(d.rows)::int8 AS rows,
    sum(d.shared_blks_hit)::int8 AS shared_blks_hit,
    sum(d.shared_blks_read)::int8 AS shared_blks_read,
    sum(d.shared_blks_dirtied)::int8 AS shared_blks_dirtied,
    sum(d.shared_blks_written)::int8 AS shared_blks_written,
    sum(d.local_blks_hit)::int8 AS local_blks_hit,
    sum(d.local_blks_read)::int8 AS local_blks_read,
    sum(d.local_blks_dirtied)::int8 AS local_blks_dirtied,
    sum(d.local_blks_written)::int8 AS local_blks_written,
    sum(d.temp_blks_read)::int8 AS temp_blks_read,
    sum(d.temp_blks_written)::int8 AS temp_blks_written,
    sum(d.blk_read_time) AS blk_read_time,
    sum(d.blk_write_time) AS blk_write_time,
    sum(d.temp_blk_read_time) AS temp_blk_read_time,
    sum(d.temp_blk_write_time) AS temp_blk_write_time,
    @extschema@.pgsm_sum(d.resp_calls)::text[] AS resp_calls,
    sum(d.cpu_user_time) AS cpu_user_time,
    sum(d.cpu_sys_time) AS cpu_sys_time,
    sum(d.wal_records)::int8 AS wal_records,
    sum(d.wal_fpi)::int8 AS wal_fpi,
    sum(d.wal_bytes) AS wal_bytes,
    d.bucket_start_time
        + current_setting('pg_stat_monitor.pgsm_bucket_time')::interval
        <= now() AS bucket_done,
    sum(d.plans)::int8 AS plans,
    sum(d.total_plan_time) AS total_plan_time,
    coalesce(min(d.min_plan_time) FILTER (WHERE d.plans > 0), 0) AS min_plan_time,
    coalesce(max(d.max_plan_time) FILTER (WHERE d.plans > 0), 0) AS max_plan_time,
    coalesce(sum(d.total_plan_time) / nullif(sum(d.plans), 0), 0) AS mean_plan_time,
    coalesce(sqrt(greatest(0,
        (sum(d.sum_var_plan_time)
         + sum(d.total_plan_time ^ 2 / d.plans) FILTER (WHERE d.plans > 0)
         - sum(d.total_plan_time) ^ 2 / nullif(sum(d.plans), 0))
        / nullif(sum(d.plans), 0))), 0) AS stddev_plan_time,
    sum(d.jit_functions)::int8 AS jit_functions,
    sum(d.jit_generation_time) AS jit_generation_time,
    sum(d.jit_inlining_count)::int8 AS jit_inlining_count,
    sum(d.jit_inlining_time) AS jit_inlining_time,
    sum(d.jit_optimization_count)::int8 AS jit_optimization_count,
    sum(d.jit_optimization_time) AS jit_optimization_time,
    sum(d.jit_emission_count)::int8 AS jit_emission_count,
    sum(d.jit_emission_time) AS jit_emission_time
FROM @extschema@.pg_stat_monitor_data d
GROUP BY d.bucket_start_time, d.bucket, d.userid, d.dbid, d.client_ip,
         d.queryid, d.toplevel, d.top_queryid, d.planid, d.application_name,
         d.elevel, d.sqlcode;

-- What shared memory holds now: the bucket in progress, and anything not
-- exported yet.  Readable by all; other users' texts are masked.
CREATE VIEW pg_stat_monitor_live AS
    SELECT * FROM @extschema@.pg_stat_monitor_internal(true)
    ORDER BY bucket_start_time;

-- pg_stat_monitor becomes a materialized view of the last pgsm_max_buckets
-- buckets of history, refreshed by the worker after each export.  Reading
-- only those buckets' partitions, its refresh does not grow with history.
DROP VIEW pg_stat_monitor;
CREATE MATERIALIZED VIEW pg_stat_monitor AS
    SELECT * FROM @extschema@.pg_stat_monitor_history
    WHERE bucket_start_time >= @extschema@.pgsm_window_start();

-- the key of an entry: what REFRESH ... CONCURRENTLY matches rows on
CREATE UNIQUE INDEX pg_stat_monitor_entry_key ON pg_stat_monitor (
    bucket, userid, dbid, client_ip, queryid, toplevel, top_queryid, planid,
    application_name, elevel, sqlcode);

REVOKE ALL ON pg_stat_monitor, pg_stat_monitor_history FROM PUBLIC;
GRANT SELECT ON pg_stat_monitor, pg_stat_monitor_history TO pg_read_all_stats;
GRANT SELECT ON pg_stat_monitor_live TO PUBLIC;

-- histogram() reads the bucket wherever it is: still in shared memory,
-- in history, or both (a bucket exported early).
CREATE OR REPLACE FUNCTION histogram(_bucket int8, _quryid int8,
                                     OUT range text, OUT freq int, OUT bar text)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$
    SELECT h.range, h.freq,
           repeat('■', (h.freq::float8 / nullif(max(h.freq) OVER (), 0) * 30)::int)
    FROM (SELECT x.range, sum(x.freq::int)::int AS freq, x.pos
          FROM (SELECT resp_calls FROM @extschema@.pg_stat_monitor_live
                WHERE bucket = _bucket AND queryid = _quryid
                UNION ALL
                SELECT resp_calls FROM @extschema@.pg_stat_monitor_history
                WHERE bucket_start_time = to_timestamp(_bucket *
                        @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_bucket_time'))
                  AND bucket = _bucket AND queryid = _quryid) m,
               unnest(@extschema@.range(), m.resp_calls)
                   WITH ORDINALITY AS x(range, freq, pos)
          GROUP BY x.pos, x.range) h
    ORDER BY h.pos
$$;
