/* pg_stat_monitor--2.0.sql: the collector and its views */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_stat_monitor" to load this file. \quit

CREATE FUNCTION pg_stat_monitor_reset()
RETURNS void
LANGUAGE c PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE FUNCTION pg_stat_monitor_version()
RETURNS text
LANGUAGE c PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE FUNCTION get_histogram_timings()
RETURNS text
LANGUAGE c PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE FUNCTION range()
RETURNS text[]
LANGUAGE sql PARALLEL SAFE
AS $$ SELECT string_to_array(@extschema@.get_histogram_timings(), ',') $$;

-- Command types as PostgreSQL 15 numbers them (CmdType)
CREATE FUNCTION get_cmd_type(cmd_type int)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE cmd_type
    WHEN 0 THEN ''
    WHEN 1 THEN 'SELECT'
    WHEN 2 THEN 'UPDATE'
    WHEN 3 THEN 'INSERT'
    WHEN 4 THEN 'DELETE'
    WHEN 5 THEN 'MERGE'
    WHEN 6 THEN 'UTILITY'
    WHEN 7 THEN 'NOTHING'
END
$$;

-- Error levels as PostgreSQL 15 numbers them (utils/elog.h)
CREATE FUNCTION decode_error_level(elevel int)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE elevel
    WHEN 0 THEN ''
    WHEN 10 THEN 'DEBUG5'
    WHEN 11 THEN 'DEBUG4'
    WHEN 12 THEN 'DEBUG3'
    WHEN 13 THEN 'DEBUG2'
    WHEN 14 THEN 'DEBUG1'
    WHEN 15 THEN 'LOG'
    WHEN 16 THEN 'LOG_SERVER_ONLY'
    WHEN 17 THEN 'INFO'
    WHEN 18 THEN 'NOTICE'
    WHEN 19 THEN 'WARNING'
    WHEN 20 THEN 'WARNING_CLIENT_ONLY'
    WHEN 21 THEN 'ERROR'
    WHEN 22 THEN 'FATAL'
    WHEN 23 THEN 'PANIC'
END
$$;

-- The statistics in shared memory, with pg_stat_monitor's columns
CREATE FUNCTION pg_stat_monitor_internal(
    IN showtext boolean,
    OUT bucket int8,
    OUT bucket_start_time timestamptz,
    OUT userid oid,
    OUT username text,
    OUT dbid oid,
    OUT datname text,
    OUT client_ip inet,
    OUT pgsm_query_id int8,
    OUT queryid int8,
    OUT toplevel boolean,
    OUT top_queryid int8,
    OUT query text,
    OUT comments text,
    OUT planid int8,
    OUT query_plan text,
    OUT top_query text,
    OUT application_name text,
    OUT relations text[],
    OUT cmd_type int,
    OUT cmd_type_text text,
    OUT elevel int,
    OUT sqlcode text,
    OUT message text,
    OUT calls int8,
    OUT total_exec_time float8,
    OUT min_exec_time float8,
    OUT max_exec_time float8,
    OUT mean_exec_time float8,
    OUT stddev_exec_time float8,
    OUT rows int8,
    OUT shared_blks_hit int8,
    OUT shared_blks_read int8,
    OUT shared_blks_dirtied int8,
    OUT shared_blks_written int8,
    OUT local_blks_hit int8,
    OUT local_blks_read int8,
    OUT local_blks_dirtied int8,
    OUT local_blks_written int8,
    OUT temp_blks_read int8,
    OUT temp_blks_written int8,
    OUT blk_read_time float8,
    OUT blk_write_time float8,
    OUT temp_blk_read_time float8,
    OUT temp_blk_write_time float8,
    OUT resp_calls text[],
    OUT cpu_user_time float8,
    OUT cpu_sys_time float8,
    OUT wal_records int8,
    OUT wal_fpi int8,
    OUT wal_bytes numeric,
    OUT bucket_done boolean,
    OUT plans int8,
    OUT total_plan_time float8,
    OUT min_plan_time float8,
    OUT max_plan_time float8,
    OUT mean_plan_time float8,
    OUT stddev_plan_time float8,
    OUT jit_functions int8,
    OUT jit_generation_time float8,
    OUT jit_inlining_count int8,
    OUT jit_inlining_time float8,
    OUT jit_optimization_count int8,
    OUT jit_optimization_time float8,
    OUT jit_emission_count int8,
    OUT jit_emission_time float8
)
RETURNS SETOF record
LANGUAGE c STRICT VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE VIEW pg_stat_monitor AS
    SELECT * FROM @extschema@.pg_stat_monitor_internal(true)
    ORDER BY bucket_start_time;

-- The response-time histogram of one query in one bucket, with a bar chart
CREATE FUNCTION histogram(_bucket int8, _quryid int8,
                          OUT range text, OUT freq int, OUT bar text)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$
    SELECT h.range, h.freq,
           repeat('■', (h.freq::float8 / nullif(max(h.freq) OVER (), 0) * 30)::int)
    FROM (SELECT x.range, sum(x.freq::int)::int AS freq, x.pos
          FROM @extschema@.pg_stat_monitor m,
               unnest(@extschema@.range(), m.resp_calls)
                   WITH ORDINALITY AS x(range, freq, pos)
          WHERE m.bucket = _bucket AND m.queryid = _quryid
          GROUP BY x.pos, x.range) h
    ORDER BY h.pos
$$;

-- How full the store is, what could not be kept, and what the worker did
CREATE FUNCTION pg_stat_monitor_info(
    OUT size int8,
    OUT entries_max int,
    OUT entries int,
    OUT text_bytes_max int8,
    OUT text_bytes int8,
    OUT calls_dropped int8,
    OUT entries_dropped int8,
    OUT calls_lost int8,
    OUT stats_reset timestamptz,
    OUT exports int8,
    OUT rows_exported int8,
    OUT early_flushes int8,
    OUT export_failures int8,
    OUT last_export timestamptz,
    OUT last_export_ms float8,
    OUT last_lock_ms float8,
    OUT last_error text,
    OUT last_error_time timestamptz
)
RETURNS record
LANGUAGE c STRICT VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE VIEW pg_stat_monitor_info AS
    SELECT * FROM @extschema@.pg_stat_monitor_info();

GRANT SELECT ON pg_stat_monitor TO PUBLIC;
GRANT SELECT ON pg_stat_monitor_info TO PUBLIC;

-- Only superusers, and those they grant it to, may discard statistics
REVOKE ALL ON FUNCTION pg_stat_monitor_reset() FROM PUBLIC;
