/* pg_stat_monitor--2.0--2.1.sql: history tables the worker exports into */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_stat_monitor UPDATE TO '2.1'" to load this file. \quit

-- Query, top-level query and plan texts, stored once each.  text_id is a
-- hash of the text; last_used is refreshed at most hourly, and texts that
-- no history row can still use are removed with the partitions.
CREATE TABLE pg_stat_monitor_texts (
    text_id int8 PRIMARY KEY,
    text text NOT NULL,
    first_used timestamptz NOT NULL DEFAULT now(),
    last_used timestamptz NOT NULL DEFAULT now()
);

-- One row per export: the worker checks it before writing a batch again,
-- so that a worker killed after commit never writes a batch twice.
CREATE TABLE pg_stat_monitor_exports (
    batch_id int8 PRIMARY KEY,
    exported_at timestamptz NOT NULL DEFAULT now(),
    rows int NOT NULL
);

-- Every exported entry.  A bucket flushed early is split across rows (one
-- per export); the views add them back together.
CREATE TABLE pg_stat_monitor_data (
    bucket int8 NOT NULL,
    bucket_start_time timestamptz NOT NULL,
    userid oid NOT NULL,
    username text,
    dbid oid NOT NULL,
    datname text,
    client_ip inet,
    pgsm_query_id int8,
    queryid int8 NOT NULL,
    toplevel boolean NOT NULL,
    top_queryid int8,
    query_text_id int8,
    comments text,
    planid int8,
    plan_text_id int8,
    top_query_text_id int8,
    application_name text,
    relations text[],
    cmd_type int NOT NULL,
    elevel int NOT NULL,
    sqlcode text,
    message text,
    calls int8 NOT NULL,
    total_exec_time float8 NOT NULL,
    min_exec_time float8 NOT NULL,
    max_exec_time float8 NOT NULL,
    sum_var_exec_time float8 NOT NULL,
    rows int8 NOT NULL,
    shared_blks_hit int8 NOT NULL,
    shared_blks_read int8 NOT NULL,
    shared_blks_dirtied int8 NOT NULL,
    shared_blks_written int8 NOT NULL,
    local_blks_hit int8 NOT NULL,
    local_blks_read int8 NOT NULL,
    local_blks_dirtied int8 NOT NULL,
    local_blks_written int8 NOT NULL,
    temp_blks_read int8 NOT NULL,
    temp_blks_written int8 NOT NULL,
    blk_read_time float8 NOT NULL,
    blk_write_time float8 NOT NULL,
    temp_blk_read_time float8 NOT NULL,
    temp_blk_write_time float8 NOT NULL,
    resp_calls int8[] NOT NULL,
    cpu_user_time float8 NOT NULL,
    cpu_sys_time float8 NOT NULL,
    wal_records int8 NOT NULL,
    wal_fpi int8 NOT NULL,
    wal_bytes numeric NOT NULL,
    plans int8 NOT NULL,
    total_plan_time float8 NOT NULL,
    min_plan_time float8 NOT NULL,
    max_plan_time float8 NOT NULL,
    sum_var_plan_time float8 NOT NULL,
    jit_functions int8 NOT NULL,
    jit_generation_time float8 NOT NULL,
    jit_inlining_count int8 NOT NULL,
    jit_inlining_time float8 NOT NULL,
    jit_optimization_count int8 NOT NULL,
    jit_optimization_time float8 NOT NULL,
    jit_emission_count int8 NOT NULL,
    jit_emission_time float8 NOT NULL,
    batch_id int8 NOT NULL,
    exported_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (bucket_start_time);

CREATE INDEX ON pg_stat_monitor_data (bucket_start_time);

REVOKE ALL ON pg_stat_monitor_data, pg_stat_monitor_texts,
    pg_stat_monitor_exports FROM PUBLIC;
GRANT SELECT ON pg_stat_monitor_data, pg_stat_monitor_texts,
    pg_stat_monitor_exports TO pg_read_all_stats;

-- The frozen batch the worker is exporting, with its texts' ids.
-- Internal: only the worker has a use for it.
CREATE FUNCTION pgsm_batch_rows(
    IN batch_id int8,
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
    OUT jit_emission_time float8,
    OUT sum_var_exec_time float8,
    OUT sum_var_plan_time float8,
    OUT query_text_id int8,
    OUT top_query_text_id int8,
    OUT plan_text_id int8
)
RETURNS SETOF record
LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME';
REVOKE ALL ON FUNCTION pgsm_batch_rows(int8) FROM PUBLIC;

-- Ask the worker to export what shared memory holds now, without waiting
-- for the end of the bucket.  Returns at once.
CREATE FUNCTION pg_stat_monitor_flush()
RETURNS void
LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME';
REVOKE ALL ON FUNCTION pg_stat_monitor_flush() FROM PUBLIC;

-- A time setting, in seconds (current_setting shows it with a unit)
CREATE FUNCTION pgsm_setting_seconds(name text)
RETURNS int8
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT extract(epoch FROM current_setting(name)::interval)::int8 $$;

-- The partitions of a partitioned table, with their bounds
CREATE FUNCTION pgsm_partitions(tbl regclass,
                                OUT partition regclass,
                                OUT lower_bound timestamptz,
                                OUT upper_bound timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$
    SELECT c.oid::regclass, m[1]::timestamptz, m[2]::timestamptz
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid,
    LATERAL regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                         $re$FROM \('([^']*)'\) TO \('([^']*)'\)$re$) m
    WHERE i.inhparent = tbl
$$;

-- Create, if missing, the partition of tbl that holds the time "at".
-- Partitions span pg_stat_monitor.pgsm_partition_span, aligned to the
-- epoch; after a change of span, a new partition is cut to fit between
-- its neighbours.
CREATE FUNCTION pgsm_ensure_partition(tbl regclass, at timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    span int8 := @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_partition_span');
    lo timestamptz := to_timestamp(floor(extract(epoch FROM at) / span) * span);
    hi timestamptz := lo + make_interval(secs => span);
    nsp name;
    rel name;
BEGIN
    IF EXISTS (SELECT FROM @extschema@.pgsm_partitions(tbl) p
               WHERE at >= p.lower_bound AND at < p.upper_bound) THEN
        RETURN;
    END IF;
    SELECT greatest(lo, max(p.upper_bound)) INTO lo
    FROM @extschema@.pgsm_partitions(tbl) p WHERE p.upper_bound <= at;
    SELECT least(hi, min(p.lower_bound)) INTO hi
    FROM @extschema@.pgsm_partitions(tbl) p WHERE p.lower_bound > at;

    SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = tbl;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   nsp, rel || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS'),
                   tbl, lo, hi);
END
$$;

-- Keep the history tables' partitions: one ahead of "at", and none that
-- ended more than pg_stat_monitor.pgsm_retention before it.  Applies to
-- every partitioned table of the extension.  Texts and export records
-- that no kept row can need go too.
CREATE FUNCTION pgsm_maintain_partitions(at timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    span interval := make_interval(secs => @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_partition_span'));
    cutoff timestamptz := at - make_interval(secs => @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_retention'));
    tbl regclass;
    part record;
BEGIN
    FOR tbl IN
        SELECT c.oid::regclass
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_class c ON c.oid = d.objid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass
          AND d.refclassid = 'pg_catalog.pg_extension'::regclass
          AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension
                            WHERE extname = 'pg_stat_monitor')
          AND d.deptype = 'e'
          AND c.relkind = 'p'
    LOOP
        PERFORM @extschema@.pgsm_ensure_partition(tbl, at);
        PERFORM @extschema@.pgsm_ensure_partition(tbl, at + span);
        FOR part IN
            SELECT p.partition FROM @extschema@.pgsm_partitions(tbl) p
            WHERE p.upper_bound <= cutoff
        LOOP
            EXECUTE format('DROP TABLE %s', part.partition);
        END LOOP;
    END LOOP;

    -- a text in use is touched at least hourly
    DELETE FROM @extschema@.pg_stat_monitor_texts
    WHERE last_used < cutoff - span - interval '1 hour';
    DELETE FROM @extschema@.pg_stat_monitor_exports
    WHERE exported_at < cutoff - span;
END
$$;

REVOKE ALL ON FUNCTION pgsm_ensure_partition(regclass, timestamptz),
    pgsm_maintain_partitions(timestamptz) FROM PUBLIC;

-- Elementwise sum of histograms, for adding up rows of one bucket
CREATE FUNCTION pgsm_add_arrays(a int8[], b int8[])
RETURNS int8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN a IS NULL THEN b
        WHEN b IS NULL THEN a
        ELSE ARRAY(SELECT coalesce(x, 0) + coalesce(y, 0)
                   FROM unnest(a, b) AS u(x, y))
    END
$$;

CREATE AGGREGATE pgsm_sum(int8[]) (
    SFUNC = pgsm_add_arrays,
    STYPE = int8[],
    PARALLEL = SAFE
);
