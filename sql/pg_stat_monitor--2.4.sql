/* pg_stat_monitor--2.4.sql: the collector, its history and their views */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_stat_monitor" to load this file. \quit

-- Every name below is looked up in pg_catalog only, so that objects others
-- may create in the extension's schema, in public or in a schema named like
-- the installing role cannot take the place of built-in functions and
-- operators in the views, which are bound to what they name here.
-- SET LOCAL: CREATE EXTENSION (and ALTER EXTENSION UPDATE) then restores
-- the session's search_path when the script ends; a plain SET would outlive
-- it.
SET LOCAL search_path = pg_catalog, pg_temp;

/*
 * Everything is created with a name qualified by the extension's schema,
 * every SQL function has its own search_path, and the functions the views
 * call once per row are in C (see functions.c).
 */

CREATE FUNCTION @extschema@.pg_stat_monitor_reset()
RETURNS void
LANGUAGE c PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE FUNCTION @extschema@.pg_stat_monitor_version()
RETURNS text
LANGUAGE c PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE FUNCTION @extschema@.get_histogram_timings()
RETURNS text
LANGUAGE c PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE FUNCTION @extschema@.range()
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.string_to_array(@extschema@.get_histogram_timings(), ',')
$$;

-- Command types as PostgreSQL 15 numbers them (CmdType).  In C: the views
-- call it once per row.
CREATE FUNCTION @extschema@.get_cmd_type(cmd_type int)
RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'get_cmd_type';

-- Error levels as PostgreSQL 15 numbers them (utils/elog.h)
CREATE FUNCTION @extschema@.decode_error_level(elevel int)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
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
CREATE FUNCTION @extschema@.pg_stat_monitor_internal(
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
    OUT jit_emission_time float8,
    -- columns of later PostgreSQL versions, NULL where this one does not
    -- measure them (see pgsm_view_columns() for where the views show them)
    OUT local_blk_read_time float8,
    OUT local_blk_write_time float8,
    OUT jit_deform_count int8,
    OUT jit_deform_time float8,
    OUT stats_since timestamptz,
    OUT minmax_stats_since timestamptz,
    OUT wal_buffers_full int8,
    OUT parallel_workers_to_launch int8,
    OUT parallel_workers_launched int8
)
RETURNS SETOF record
LANGUAGE c STRICT VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME';

-- How full the store is, what was folded into overflow rows or could not
-- be kept, and what the worker did
CREATE FUNCTION @extschema@.pg_stat_monitor_info(
    OUT size int8,
    OUT entries_max int,
    OUT entries int,
    OUT text_bytes_max int8,
    OUT text_bytes int8,
    OUT calls_folded int8,
    OUT entries_folded int8,
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
    OUT last_error_time timestamptz,
    OUT history_rows_dropped int8,
    OUT last_totals_ms float8
)
RETURNS record
LANGUAGE c STRICT VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME';

CREATE VIEW @extschema@.pg_stat_monitor_info AS
    SELECT * FROM @extschema@.pg_stat_monitor_info();

-- Query, top-level query and plan texts, stored once each.  text_id is a
-- hash of the text; last_used is refreshed at most hourly, and texts that
-- no history row can still use are removed with the partitions.
CREATE TABLE @extschema@.pg_stat_monitor_texts (
    text_id int8 PRIMARY KEY,
    text text NOT NULL,
    first_used timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_used timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- One row per export: the worker checks it before writing a batch again,
-- so that a worker killed after commit never writes a batch twice.  Batch
-- ids are those of the server that exported them.
CREATE TABLE @extschema@.pg_stat_monitor_exports (
    batch_id int8 NOT NULL,
    exported_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    rows int NOT NULL,
    -- the server that exported it (a repository hears from several)
    server_name text NOT NULL DEFAULT coalesce(pg_catalog.current_setting('pg_stat_monitor.pgsm_server_name', true), ''),
    -- while the batch is not yet in pg_stat_monitor_totals, the start of
    -- its first bucket; NULL once it is (see pgsm_fold_totals())
    totals_pending_since timestamptz,
    PRIMARY KEY (server_name, batch_id)
);

-- Every exported entry.  A bucket flushed early is split across rows (one
-- per export); the views add them back together.  queryid is NULL in an
-- overflow row: the calls a full store could not give entries of their own.
CREATE TABLE @extschema@.pg_stat_monitor_entries (
    bucket int8 NOT NULL,
    bucket_start_time timestamptz NOT NULL,
    userid oid NOT NULL,
    username text,
    dbid oid NOT NULL,
    datname text,
    client_ip inet,
    pgsm_query_id int8,
    queryid int8,
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
    exported_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- since 2.4: what later PostgreSQL versions measure, NULL where the
    -- server did not
    local_blk_read_time float8,
    local_blk_write_time float8,
    jit_deform_count int8,
    jit_deform_time float8,
    stats_since timestamptz,
    wal_buffers_full int8,
    parallel_workers_to_launch int8,
    parallel_workers_launched int8,
    -- the server the row came from (pgsm_server_name): a repository holds
    -- the history of several
    server_name text NOT NULL DEFAULT coalesce(pg_catalog.current_setting('pg_stat_monitor.pgsm_server_name', true), '')
) PARTITION BY RANGE (bucket_start_time);

-- One BRIN index: rows arrive in the order of bucket_start_time, so that
-- the smallest and largest of each range of 32 pages find a few buckets
-- (the refresh of pgsm_recent, the reports) at the cost of a few pages of
-- the partition; a Bloom filter of the server names in each range finds
-- one server's rows on a repository, whose servers export in batches of
-- their own.  Unlike a btree index, it costs next to nothing per row
-- exported: a range is summed up once it is full (autosummarize), not
-- updated at each row.
CREATE INDEX ON @extschema@.pg_stat_monitor_entries
    USING brin (bucket_start_time, server_name text_bloom_ops (n_distinct_per_range = 16))
    WITH (pages_per_range = 32, autosummarize = on);

-- The exported entries under the names of the plan this fork was built
-- from, beside their own: bucket_id (the bucket's number, as in
-- pg_stat_monitor's "bucket"), total_time, mean_time, min_time and
-- max_time (execution times, in milliseconds).  One row per entry and
-- export, like the table.
CREATE VIEW @extschema@.pg_stat_monitor_data AS
SELECT e.bucket AS bucket_id, e.*,
       e.total_exec_time AS total_time,
       coalesce(e.total_exec_time OPERATOR(pg_catalog./)
                nullif(e.calls, 0), 0) AS mean_time,
       e.min_exec_time AS min_time,
       e.max_exec_time AS max_time
FROM @extschema@.pg_stat_monitor_entries e;

-- History: superusers and pg_read_all_stats only
REVOKE ALL ON @extschema@.pg_stat_monitor_entries, @extschema@.pg_stat_monitor_data,
    @extschema@.pg_stat_monitor_texts, @extschema@.pg_stat_monitor_exports FROM PUBLIC;
GRANT SELECT ON @extschema@.pg_stat_monitor_entries, @extschema@.pg_stat_monitor_data,
    @extschema@.pg_stat_monitor_texts, @extschema@.pg_stat_monitor_exports TO pg_read_all_stats;

-- The frozen batch the worker is exporting, with its texts' ids.
-- Internal: only the worker has a use for it.
CREATE FUNCTION @extschema@.pgsm_batch_rows(
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
    -- columns of later PostgreSQL versions, NULL where this one does not
    -- measure them (see pgsm_view_columns() for where the views show them)
    OUT local_blk_read_time float8,
    OUT local_blk_write_time float8,
    OUT jit_deform_count int8,
    OUT jit_deform_time float8,
    OUT stats_since timestamptz,
    OUT minmax_stats_since timestamptz,
    OUT wal_buffers_full int8,
    OUT parallel_workers_to_launch int8,
    OUT parallel_workers_launched int8,
    OUT sum_var_exec_time float8,
    OUT sum_var_plan_time float8,
    OUT query_text_id int8,
    OUT top_query_text_id int8,
    OUT plan_text_id int8
)
RETURNS SETOF record
LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME';

-- Ask the worker to export what shared memory holds now, without waiting
-- for the end of the bucket.  Returns at once.
CREATE FUNCTION @extschema@.pg_stat_monitor_flush()
RETURNS void
LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME';

-- A time setting, in seconds (current_setting shows it with a unit)
CREATE FUNCTION @extschema@.pgsm_setting_seconds(name text)
RETURNS int8
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- on a repository that does not preload the library, the settings are
    -- those of its configuration, or else their defaults
    SELECT extract(epoch FROM coalesce(nullif(pg_catalog.current_setting(name, true), ''),
        CASE name
            WHEN 'pg_stat_monitor.pgsm_partition_span' THEN '1 day'
            WHEN 'pg_stat_monitor.pgsm_retention' THEN '7 days'
            WHEN 'pg_stat_monitor.pgsm_compact_after' THEN '3 hours'
            WHEN 'pg_stat_monitor.pgsm_bucket_time' THEN '60 seconds'
        END)::pg_catalog.interval)::pg_catalog.int8
$$;

-- The partitions of a partitioned table, with their bounds
CREATE FUNCTION @extschema@.pgsm_partitions(tbl regclass,
                                            OUT partition regclass,
                                            OUT lower_bound timestamptz,
                                            OUT upper_bound timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid::pg_catalog.regclass, m[1]::pg_catalog.timestamptz,
           m[2]::pg_catalog.timestamptz
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid,
    LATERAL pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                    $re$FROM \('([^']*)'\) TO \('([^']*)'\)$re$) m
    WHERE i.inhparent OPERATOR(pg_catalog.=) tbl::pg_catalog.oid
$$;

/*
 * Create, if missing, the partition of tbl that holds the time "at".
 * Partitions span pg_stat_monitor.pgsm_partition_span, aligned to the
 * epoch; after a change of span, a new partition is cut to fit between its
 * neighbours.
 *
 * A partition is named after its start.  Whoever may create objects in the
 * extension's schema could take that name first (or a partition detached by
 * hand keeps it while covering nothing): then a WARNING names the object and
 * its owner, and the partition gets the name with a random suffix, which
 * cannot be guessed in advance.  Partitions are found by their bounds, not
 * their names, so nothing else minds.
 */
-- The span of tbl's partitions: pg_stat_monitor.pgsm_partition_span, but
-- thirty times that for the daily rollups, which are kept for years
CREATE FUNCTION @extschema@.pgsm_partition_seconds(tbl regclass)
RETURNS int8
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_partition_span')
           OPERATOR(pg_catalog.*)
           CASE WHEN tbl OPERATOR(pg_catalog.=) pg_catalog.to_regclass('@extschema@.pg_stat_monitor_rollup_day')
                THEN 30 ELSE 1 END
$$;

CREATE FUNCTION @extschema@.pgsm_ensure_partition(tbl regclass, at timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    span int8 := @extschema@.pgsm_partition_seconds(tbl);
    lo timestamptz := pg_catalog.to_timestamp(
        (pg_catalog.floor(extract(epoch FROM at) OPERATOR(pg_catalog./) span)
         OPERATOR(pg_catalog.*) span)::float8);
    hi timestamptz := lo OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => span::float8);
    nsp oid;
    nspname name;
    rel name;
    part text;
    taken text;
    taken_by name;
BEGIN
    IF EXISTS (SELECT FROM @extschema@.pgsm_partitions(tbl) p
               WHERE at >= p.lower_bound AND at < p.upper_bound) THEN
        RETURN;
    END IF;
    SELECT greatest(lo, pg_catalog.max(p.upper_bound)) INTO lo
    FROM @extschema@.pgsm_partitions(tbl) p WHERE p.upper_bound <= at;
    SELECT least(hi, pg_catalog.min(p.lower_bound)) INTO hi
    FROM @extschema@.pgsm_partitions(tbl) p WHERE p.lower_bound > at;

    SELECT c.relnamespace, n.nspname, c.relname INTO nsp, nspname, rel
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid OPERATOR(pg_catalog.=) tbl::pg_catalog.oid;

    part := rel || '_p' || pg_catalog.to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS');
    LOOP
        -- a table's name is also the name of its row type
        SELECT pg_catalog.pg_describe_object(o.classid, o.objid, 0),
               pg_catalog.pg_get_userbyid(o.owner)
        INTO taken, taken_by
        FROM (SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, c.oid, c.relowner
              FROM pg_catalog.pg_class c
              WHERE c.relnamespace = nsp AND c.relname = part
              UNION ALL
              SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.oid, t.typowner
              FROM pg_catalog.pg_type t
              WHERE t.typnamespace = nsp AND t.typname = part) o(classid, objid, owner)
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        RAISE WARNING USING
            ERRCODE = 'duplicate_table',
            MESSAGE = pg_catalog.format('name "%s" for a partition of %s is taken by %s, owned by role "%s"',
                                        part, tbl, taken, taken_by),
            DETAIL = pg_catalog.format('%s is not a partition of %s.', taken, tbl),
            HINT = 'The partition gets another name.  Drop or rename that object if it has no business in the extension''s schema.';
        part := pg_catalog.left(rel || '_p' || pg_catalog.to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS'), 54)
                || '_' || pg_catalog.left(pg_catalog.md5(pg_catalog.random()::text
                                                         || pg_catalog.clock_timestamp()::text), 8);
    END LOOP;

    EXECUTE pg_catalog.format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                              nspname, part, tbl, lo, hi);
END
$$;

-- Keep the history tables' partitions: one ahead of "at", and none that
-- ended more than pg_stat_monitor.pgsm_retention before it (the rollups:
-- their own retention).  Applies to every partitioned table of the
-- extension.  Rows of pg_stat_monitor_entries not compacted yet are added
-- to the rollups before they go.  Texts and export records that no kept
-- row (rollups included) can need go too.
CREATE FUNCTION @extschema@.pgsm_maintain_partitions(at timestamptz DEFAULT pg_catalog.now())
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    span interval := pg_catalog.make_interval(
        secs => @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_partition_span')::float8);
    retention int8 := @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_retention');
    hourly int8 := @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_rollup_hourly_retention');
    daily int8 := @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_rollup_daily_retention');
    cutoff timestamptz := at OPERATOR(pg_catalog.-) pg_catalog.make_interval(
        secs => greatest(retention, hourly, daily)::float8);
    tbl regclass;
    part record;
BEGIN
    -- nothing leaves history before it is in the totals
    PERFORM @extschema@.pgsm_fold_totals(at OPERATOR(pg_catalog.-)
                                         pg_catalog.make_interval(secs => retention::float8));
    FOR tbl IN
        SELECT c.oid::pg_catalog.regclass
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_class c ON c.oid = d.objid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
          AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e
                            WHERE e.extname = 'pg_stat_monitor')
          AND d.deptype = 'e'
          AND c.relkind = 'p'
    LOOP
        PERFORM @extschema@.pgsm_ensure_partition(tbl, at);
        PERFORM @extschema@.pgsm_ensure_partition(tbl, at OPERATOR(pg_catalog.+) span);
        FOR part IN
            SELECT p.partition FROM @extschema@.pgsm_partitions(tbl) p
            WHERE p.upper_bound <= at OPERATOR(pg_catalog.-) pg_catalog.make_interval(
                secs => CASE tbl WHEN pg_catalog.to_regclass('@extschema@.pg_stat_monitor_rollup_hour') THEN hourly
                                 WHEN pg_catalog.to_regclass('@extschema@.pg_stat_monitor_rollup_day') THEN daily
                                 ELSE retention END::float8)
        LOOP
            IF tbl OPERATOR(pg_catalog.=) '@extschema@.pg_stat_monitor_entries'::pg_catalog.regclass THEN
                PERFORM @extschema@.pgsm_rollup_partition(part.partition);
            END IF;
            EXECUTE pg_catalog.format('DROP TABLE %s', part.partition);
        END LOOP;
    END LOOP;

    -- a text in use is touched at least hourly; the rollups keep theirs
    DELETE FROM @extschema@.pg_stat_monitor_texts
    WHERE last_used < cutoff OPERATOR(pg_catalog.-) span OPERATOR(pg_catalog.-) interval '1 hour';
    DELETE FROM @extschema@.pg_stat_monitor_exports
    WHERE exported_at < at OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => retention::float8)
                         OPERATOR(pg_catalog.-) span;
END
$$;

-- Elementwise sum of histograms, for adding up rows of one bucket.  In C:
-- the aggregate calls it once per row.
CREATE FUNCTION @extschema@.pgsm_add_arrays(a int8[], b int8[])
RETURNS int8[]
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pgsm_add_arrays';

-- Element i (from 1) of a compact row's array, NULL out of bounds: like
-- a[i], but a column read element by element is detoasted and taken apart
-- once per row, not once per element.  In C: the views call it once per
-- bucket and column read.
CREATE FUNCTION @extschema@.pgsm_element(a anyarray, i int)
RETURNS anyelement
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pgsm_element';

CREATE AGGREGATE @extschema@.pgsm_sum(int8[]) (
    SFUNC = @extschema@.pgsm_add_arrays,
    STYPE = int8[],
    PARALLEL = SAFE
);

-- Sums that keep their column's type.  The built-in sum(int8) adds up in
-- numeric, which history's int8 columns were then cast back from, group by
-- group: the totals, the rollups and the views add up with these.
CREATE AGGREGATE @extschema@.pgsm_sum(int8) (
    SFUNC = pg_catalog.int8pl,
    STYPE = int8,
    COMBINEFUNC = pg_catalog.int8pl,
    PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.pgsm_sum(float8) (
    SFUNC = pg_catalog.float8pl,
    STYPE = float8,
    COMBINEFUNC = pg_catalog.float8pl,
    PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.pgsm_sum(numeric) (
    SFUNC = pg_catalog.numeric_add,
    STYPE = numeric,
    COMBINEFUNC = pg_catalog.numeric_add,
    PARALLEL = SAFE
);

-- Start of the oldest bucket pg_stat_monitor shows: the last
-- pg_stat_monitor.pgsm_max_buckets buckets, the current one included, as
-- the worker's schedule has them: a length changed by a reload counts
-- from the bucket where it takes effect.  In C: the schedule is in shared
-- memory.
CREATE FUNCTION @extschema@.pgsm_window_start()
RETURNS timestamptz
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pgsm_window_start';

-- Start of the bucket in progress, by the same schedule
CREATE FUNCTION @extschema@.pgsm_current_bucket_start()
RETURNS timestamptz
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pgsm_current_bucket_start';

/*
 * Compaction.  History older than pg_stat_monitor.pgsm_compact_after is
 * moved from pg_stat_monitor_entries into pg_stat_monitor_compact: one row
 * per statement (the key of an entry, below) and partition span (a day by
 * default), in which every other column of pg_stat_monitor_entries is an
 * array holding that column's value for each row compacted, in the order of
 * bucket_start_time and batch_id.  Arrays of one column's values compress
 * well (TOAST, lz4 where the server has it): zeros and repeated names cost
 * next to nothing.  A column whose type is an array itself (resp_calls,
 * relations) is kept as the text of each array.
 *
 * pgsm_history_rows gives every exported row from both forms, exactly as
 * it was written, so that every view over history (pg_stat_monitor_history,
 * pg_stat_monitor_data, pg_stat_monitor, histogram(), the reports) gives
 * the same answers before and after compaction.
 *
 * The shape of both is derived from the columns of pg_stat_monitor_entries
 * (whose order is history_columns[] in src/batch.c): a column added there
 * comes into the compact table and the view at the next compaction, or
 * with pgsm_compact_prepare().
 */

-- The columns of an entry's key, those kept once per compact row
CREATE FUNCTION @extschema@.pgsm_compact_columns(OUT name text, OUT type text,
                                                 OUT is_key boolean, OUT as_text boolean)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
           a.attname OPERATOR(pg_catalog.=) ANY ('{server_name,userid,dbid,client_ip,queryid,toplevel,top_queryid,planid,application_name,elevel,sqlcode}'::name[]),
           t.typcategory OPERATOR(pg_catalog.=) 'A'
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
    WHERE a.attrelid OPERATOR(pg_catalog.=) '@extschema@.pg_stat_monitor_entries'::pg_catalog.regclass
      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
    ORDER BY a.attnum
$$;

/*
 * The columns of a rollup (pg_stat_monitor_rollup_hour and _day, besides
 * rollup_start): those of an entry but its bucket and batch, in the stored
 * form and with the types of pg_stat_monitor_entries, so that the rows of
 * both add up with pgsm_combine() and read with the expressions of
 * pgsm_view_columns().
 */
CREATE FUNCTION @extschema@.pgsm_rollup_columns(OUT name text, OUT type text, OUT is_key boolean)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.name, x.type, x.is_key
    FROM @extschema@.pgsm_compact_columns() x
    WHERE x.name OPERATOR(pg_catalog.<>) ALL (ARRAY['bucket', 'bucket_start_time', 'batch_id', 'exported_at'])
$$;

/*
 * The query giving every exported row from both forms, with the columns of
 * pg_stat_monitor_entries: the compact rows (c), element u.i of each of
 * their arrays, then the entries.  Each column is its own expression
 * (pgsm_element), not one of a set of unnest() calls: the planner leaves
 * out those a query does not read, so that a query reading a few columns
 * of history takes apart only their arrays.  A condition on c
 * (compact_first, compact_last, compact_day) may be given, so that a query
 * reading a few buckets does not read the other compact rows; and the
 * columns wanted (at least one that is not part of an entry's key), in the
 * table's order.
 */
CREATE FUNCTION @extschema@.pgsm_history_rows_sql(compact_filter text,
                                                  wanted text[] DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format(
        'SELECT %s FROM @extschema@.pg_stat_monitor_compact c, pg_catalog.generate_series(1, c.compact_rows) u(i)%s '
        'UNION ALL SELECT %s FROM @extschema@.pg_stat_monitor_entries e',
        pg_catalog.string_agg(CASE WHEN x.is_key THEN pg_catalog.format('c.%I', x.name)
                                   WHEN x.as_text THEN pg_catalog.format('@extschema@.pgsm_element(c.%I, u.i)::%s AS %I', x.name, x.type, x.name)
                                   ELSE pg_catalog.format('@extschema@.pgsm_element(c.%I, u.i) AS %I', x.name, x.name) END, ', '),
        ' WHERE ' OPERATOR(pg_catalog.||) compact_filter,
        pg_catalog.string_agg(pg_catalog.format('e.%I', x.name), ', '))
    FROM @extschema@.pgsm_compact_columns() x
    WHERE wanted IS NULL OR x.name OPERATOR(pg_catalog.=) ANY (wanted)
$$;

/*
 * Create pg_stat_monitor_compact, or give it the columns of
 * pg_stat_monitor_entries it lacks, and (re-)create pgsm_history_rows over
 * both.  Idempotent; takes the compaction lock.
 */
CREATE FUNCTION @extschema@.pgsm_compact_prepare()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    lz4 boolean := EXISTS (SELECT FROM pg_catalog.pg_settings s
                           WHERE s.name OPERATOR(pg_catalog.=) 'default_toast_compression'
                             AND 'lz4' OPERATOR(pg_catalog.=) ANY (s.enumvals));
    changed boolean := false;
    t text;
BEGIN
    -- one compaction (or reshaping) at a time
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pg_stat_monitor compaction'));

    IF pg_catalog.to_regclass('@extschema@.pg_stat_monitor_compact') IS NULL THEN
        CREATE TABLE @extschema@.pg_stat_monitor_compact (
            compact_day timestamptz NOT NULL,
            compact_first timestamptz NOT NULL,
            compact_last timestamptz NOT NULL,
            compact_rows int NOT NULL
        ) PARTITION BY RANGE (compact_day);
        COMMENT ON TABLE @extschema@.pg_stat_monitor_compact IS
            'Compacted history: one row per statement and partition span, the other columns of pg_stat_monitor_entries as arrays';
        REVOKE ALL ON @extschema@.pg_stat_monitor_compact FROM PUBLIC;
        GRANT SELECT ON @extschema@.pg_stat_monitor_compact TO pg_read_all_stats;
        changed := true;
    END IF;

    FOR c IN SELECT * FROM @extschema@.pgsm_compact_columns() x
             WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                               WHERE a.attrelid OPERATOR(pg_catalog.=) '@extschema@.pg_stat_monitor_compact'::pg_catalog.regclass
                                 AND a.attname OPERATOR(pg_catalog.=) x.name
                                 AND NOT a.attisdropped)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE @extschema@.pg_stat_monitor_compact ADD COLUMN %I %s',
                                  c.name,
                                  CASE WHEN c.is_key THEN c.type
                                       WHEN c.as_text THEN 'text[]'
                                       ELSE c.type OPERATOR(pg_catalog.||) '[]' END);
        IF NOT c.is_key AND lz4 THEN
            EXECUTE pg_catalog.format('ALTER TABLE @extschema@.pg_stat_monitor_compact ALTER COLUMN %I SET COMPRESSION lz4',
                                      c.name);
        END IF;
        changed := true;
    END LOOP;

    -- the rollups, in pgsm_rollup_columns(): their partitions span
    -- pgsm_partition_seconds()
    FOREACH t IN ARRAY ARRAY['pg_stat_monitor_rollup_hour', 'pg_stat_monitor_rollup_day']
    LOOP
        IF pg_catalog.to_regclass('@extschema@.' OPERATOR(pg_catalog.||) t) IS NULL THEN
            EXECUTE pg_catalog.format(
                'CREATE TABLE @extschema@.%I (rollup_start timestamptz NOT NULL) PARTITION BY RANGE (rollup_start)', t);
            EXECUTE pg_catalog.format('COMMENT ON TABLE @extschema@.%I IS %L', t,
                'History added up per statement and ' OPERATOR(pg_catalog.||)
                CASE WHEN t OPERATOR(pg_catalog.~) 'hour$' THEN 'hour' ELSE 'day' END
                OPERATOR(pg_catalog.||) ' (UTC), kept for its own retention; read through pg_stat_monitor_rollups');
            EXECUTE pg_catalog.format('REVOKE ALL ON @extschema@.%I FROM PUBLIC', t);
            EXECUTE pg_catalog.format('GRANT SELECT ON @extschema@.%I TO pg_read_all_stats', t);
        END IF;
        FOR c IN SELECT * FROM @extschema@.pgsm_rollup_columns() x
                 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                                   WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('@extschema@.' OPERATOR(pg_catalog.||) t)
                                     AND a.attname OPERATOR(pg_catalog.=) x.name
                                     AND NOT a.attisdropped)
        LOOP
            EXECUTE pg_catalog.format('ALTER TABLE @extschema@.%I ADD COLUMN %I %s', t, c.name, c.type);
            -- the table is new: its index, for a period's rows and their merges
            IF c.name OPERATOR(pg_catalog.=) 'queryid' THEN
                EXECUTE pg_catalog.format('CREATE INDEX ON @extschema@.%I (rollup_start, queryid)', t);
            END IF;
        END LOOP;
    END LOOP;

    IF NOT changed AND pg_catalog.to_regclass('@extschema@.pgsm_history_rows') IS NOT NULL THEN
        RETURN;
    END IF;

    EXECUTE 'CREATE OR REPLACE VIEW @extschema@.pgsm_history_rows AS '
        OPERATOR(pg_catalog.||) @extschema@.pgsm_history_rows_sql(NULL);
    COMMENT ON VIEW @extschema@.pgsm_history_rows IS
        'Every exported row, from pg_stat_monitor_compact and pg_stat_monitor_entries';
    REVOKE ALL ON @extschema@.pgsm_history_rows FROM PUBLIC;
    GRANT SELECT ON @extschema@.pgsm_history_rows TO pg_read_all_stats;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.pgsm_compact_prepare() FROM PUBLIC;

SELECT @extschema@.pgsm_compact_prepare();

-- The start of the partition span that holds "at", as pgsm_ensure_partition
-- aligns it: the compact_day of a bucket.
CREATE FUNCTION @extschema@.pgsm_compact_day(at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.to_timestamp(
        (pg_catalog.floor(extract(epoch FROM at) OPERATOR(pg_catalog./) s.span)
         OPERATOR(pg_catalog.*) s.span)::float8)
    FROM (SELECT @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_partition_span') AS span) s
$$;

/*
 * Compact the history of every bucket that started before "cutoff" (and
 * before the bucket in progress), in one transaction: the rows leave
 * pg_stat_monitor_entries and join the compact row of their statement and
 * day, which is rewritten with them if it exists.  Rows exported meanwhile
 * for those buckets stay in pg_stat_monitor_entries until the next
 * compaction; the views read both, so no row is lost or counted twice.
 * The rows moved are added to the rollups in the same statement.
 *
 * A partition of pg_stat_monitor_entries that ended by then is compacted
 * whole: locked (an export of a late row waits for the commit), read, and
 * truncated, which writes next to no WAL; like every TRUNCATE, that is not
 * MVCC-safe: a transaction in REPEATABLE READ whose snapshot is older than
 * the compaction sees the day in neither form.  The rest (the partition
 * holding the cutoff, and one still in use) is deleted row by row.
 * Returns, per day, the entries compacted and the compact rows written.
 */
CREATE FUNCTION @extschema@.pgsm_compact_before(cutoff timestamptz,
                                                OUT day timestamptz,
                                                OUT entries int8,
                                                OUT compact_rows int8)
RETURNS SETOF record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- the memory the compaction worker gives it, also when called by hand: a
-- day's rows are sorted by statement
SET work_mem = '64MB'
AS $$
DECLARE
    upto timestamptz := least(cutoff, @extschema@.pgsm_current_bucket_start());
    span int8 := @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_partition_span');
    -- pgsm_compact_day(), written out: a function with its own settings is
    -- called, not inlined, and would cost a call per row
    dayexpr text := 'pg_catalog.to_timestamp((pg_catalog.floor(extract(epoch FROM e.bucket_start_time) OPERATOR(pg_catalog./) '
                    OPERATOR(pg_catalog.||) span OPERATOR(pg_catalog.||) ') OPERATOR(pg_catalog.*) '
                    OPERATOR(pg_catalog.||) span OPERATOR(pg_catalog.||) ')::float8)';
    p record;
    d timestamptz;
    lo timestamptz;
    hi timestamptz;
    q text;
    timeout text := pg_catalog.current_setting('lock_timeout');
    rel text;
    src text;
    r record;
    days timestamptz[] := '{}';
    moved_n int8[] := '{}';
    written_n int8[] := '{}';
BEGIN
    PERFORM @extschema@.pgsm_fold_totals(upto);
    PERFORM @extschema@.pgsm_compact_prepare();

    -- The query that moves the rows of "moved" (rows of entries e, with
    -- their compact_day), whose definition takes the place of <<moved>>.
    SELECT pg_catalog.format($q$
        WITH moved AS (<<moved>>)%8$s,
        old AS (
            DELETE FROM @extschema@.pg_stat_monitor_compact c
            WHERE c.compact_day >= (SELECT pg_catalog.min(m.compact_day) FROM moved m)
              AND EXISTS (SELECT FROM moved m
                          WHERE m.compact_day = c.compact_day AND %1$s)
            RETURNING c.*),
        rows_of AS (
            SELECT compact_day, %3$s FROM moved
            UNION ALL
            SELECT c.compact_day, %5$s
            FROM old c, ROWS FROM (%6$s) u(%7$s)),
        written AS (
            INSERT INTO @extschema@.pg_stat_monitor_compact
                (compact_day, compact_first, compact_last, compact_rows, %3$s)
            SELECT compact_day, pg_catalog.min(bucket_start_time),
                   pg_catalog.max(bucket_start_time), pg_catalog.count(*), %4$s
            FROM rows_of
            GROUP BY compact_day, %2$s
            RETURNING compact_day)
        SELECT m.compact_day, m.n AS moved_rows, w.n AS written_rows
        FROM (SELECT compact_day, pg_catalog.count(*) AS n FROM moved GROUP BY 1) m
        JOIN (SELECT compact_day, pg_catalog.count(*) AS n FROM written GROUP BY 1) w
          USING (compact_day)
        $q$,
        pg_catalog.string_agg(pg_catalog.format('m.%I IS NOT DISTINCT FROM c.%I', x.name, x.name), ' AND ')
            FILTER (WHERE x.is_key),
        pg_catalog.string_agg(pg_catalog.format('%I', x.name), ', ') FILTER (WHERE x.is_key),
        pg_catalog.string_agg(pg_catalog.format('%I', x.name), ', '),
        pg_catalog.string_agg(CASE WHEN x.is_key THEN pg_catalog.format('%I', x.name)
                                   WHEN x.as_text THEN pg_catalog.format('pg_catalog.array_agg(%I::text ORDER BY bucket_start_time, batch_id)', x.name)
                                   ELSE pg_catalog.format('pg_catalog.array_agg(%I ORDER BY bucket_start_time, batch_id)', x.name) END, ', '),
        pg_catalog.string_agg(CASE WHEN x.is_key THEN pg_catalog.format('c.%I', x.name)
                                   WHEN x.as_text THEN pg_catalog.format('u.%I::%s AS %I', x.name, x.type, x.name)
                                   ELSE pg_catalog.format('u.%I', x.name) END, ', '),
        pg_catalog.string_agg(pg_catalog.format('pg_catalog.unnest(c.%I)', x.name), ', ')
            FILTER (WHERE NOT x.is_key),
        pg_catalog.string_agg(pg_catalog.format('%I', x.name), ', ') FILTER (WHERE NOT x.is_key),
        @extschema@.pgsm_rollup_ctes('moved'))
    INTO q
    FROM @extschema@.pgsm_compact_columns() x;

    -- The partitions that ended by the cutoff, oldest first, then what is
    -- left: the rows before the cutoff in the others.
    FOR p IN
        SELECT x.partition, x.lower_bound
        FROM @extschema@.pgsm_partitions('@extschema@.pg_stat_monitor_entries') x
        WHERE x.upper_bound <= upto
        UNION ALL
        SELECT NULL, 'infinity'
        ORDER BY 2
    LOOP
        IF p.partition IS NOT NULL THEN
            -- Before reading it, so that an export of a late row waits for
            -- the commit.  Waiting for less than deadlock_timeout, so that an
            -- export writing into two partitions never waits for this while
            -- this waits for it: a partition still in use (by a long query)
            -- has its rows deleted instead, below.
            BEGIN
                PERFORM pg_catalog.set_config('lock_timeout', '500ms', true);
                EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', p.partition);
                PERFORM pg_catalog.set_config('lock_timeout', timeout, true);
            EXCEPTION WHEN lock_not_available OR undefined_table THEN
                CONTINUE;
            END;
            rel := p.partition::text;
            src := pg_catalog.format('SELECT %s AS compact_day, e.* FROM %s e', dayexpr, rel);
        ELSE
            rel := '@extschema@.pg_stat_monitor_entries';
            src := pg_catalog.format('DELETE FROM %s e WHERE e.bucket_start_time < $1'
                                     ' RETURNING %s AS compact_day, e.*', rel, dayexpr);
        END IF;

        -- the partitions of the compact form and of the rollups they go to
        EXECUTE pg_catalog.format('SELECT pg_catalog.min(e.bucket_start_time), pg_catalog.max(e.bucket_start_time)'
                                  ' FROM %s e WHERE e.bucket_start_time < $1', rel)
        INTO lo, hi USING upto;
        CONTINUE WHEN lo IS NULL;
        d := @extschema@.pgsm_compact_day(lo);
        WHILE d <= hi LOOP
            PERFORM @extschema@.pgsm_ensure_partition('@extschema@.pg_stat_monitor_compact', d);
            d := d OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => span::float8);
        END LOOP;
        PERFORM @extschema@.pgsm_rollup_ensure(lo, hi);

        FOR r IN EXECUTE pg_catalog.replace(q, '<<moved>>', src) USING upto
        LOOP
            days := days OPERATOR(pg_catalog.||) r.compact_day;
            moved_n := moved_n OPERATOR(pg_catalog.||) r.moved_rows;
            written_n := written_n OPERATOR(pg_catalog.||) r.written_rows;
        END LOOP;
        IF p.partition IS NOT NULL THEN
            EXECUTE pg_catalog.format('TRUNCATE %s', p.partition);
        END IF;
    END LOOP;

    -- a day split across partitions (after a change of span) once
    RETURN QUERY
        SELECT x.d, pg_catalog.sum(x.m)::int8, pg_catalog.sum(x.w)::int8
        FROM ROWS FROM (pg_catalog.unnest(days), pg_catalog.unnest(moved_n),
                       pg_catalog.unnest(written_n)) x(d, m, w)
        GROUP BY x.d ORDER BY x.d;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.pgsm_compact_before(timestamptz) FROM PUBLIC;

-- Compact, now, the history of buckets that started more than older_than
-- ago (by default every finished bucket).
CREATE FUNCTION @extschema@.pg_stat_monitor_compact(older_than interval DEFAULT '0',
                                                    OUT day timestamptz,
                                                    OUT entries int8,
                                                    OUT compact_rows int8)
RETURNS SETOF record
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM @extschema@.pgsm_compact_before(pg_catalog.now() OPERATOR(pg_catalog.-) older_than)
$$;

REVOKE ALL ON FUNCTION @extschema@.pg_stat_monitor_compact(interval) FROM PUBLIC;

-- What the worker compacts now and then: with pgsm_compact_after 0 every
-- finished bucket, else the days (partition spans) that ended more than
-- pgsm_compact_after ago, each in one go, so that a compact row is written
-- once rather than rewritten as its day goes by.
CREATE FUNCTION @extschema@.pgsm_compact_due(at timestamptz DEFAULT pg_catalog.now())
RETURNS int8
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.sum(c.entries), 0)::int8
    FROM (SELECT @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_compact_after') AS after) s,
         @extschema@.pgsm_compact_before(
             CASE WHEN s.after OPERATOR(pg_catalog.=) 0 THEN at
                  ELSE @extschema@.pgsm_compact_day(at OPERATOR(pg_catalog.-)
                           pg_catalog.make_interval(secs => s.after::float8)) END) c
$$;

REVOKE ALL ON FUNCTION @extschema@.pgsm_compact_due(timestamptz) FROM PUBLIC;

-- pg_stat_monitor_data reads both forms
CREATE OR REPLACE VIEW @extschema@.pg_stat_monitor_data AS
SELECT e.bucket AS bucket_id, e.*,
       e.total_exec_time AS total_time,
       coalesce(e.total_exec_time OPERATOR(pg_catalog./)
                nullif(e.calls, 0), 0) AS mean_time,
       e.min_exec_time AS min_time,
       e.max_exec_time AS max_time
FROM @extschema@.pgsm_history_rows e;

/*
 * Hold history (pgsm_history_size(): entries, compact form and rollups,
 * their partitions with TOAST and indexes; texts apart) under max_bytes.
 * The oldest goes first, detail (entries, added to the rollups first)
 * before the compact form of the same span: whole partitions that ended;
 * then, if the partitions of the present are over the limit by themselves,
 * the oldest rows of the entries partition holding the bucket in progress,
 * rewritten (kept rows copied, partition truncated) so that the space is
 * given back at once; it is cut to half the limit, so that this is rare.
 * Rollups go last, oldest first, hourly before daily.  Returns the rows
 * dropped (a compact row counting the rows it holds, a rollup row one) and
 * the size before and after.
 */
CREATE FUNCTION @extschema@.pgsm_enforce_max_size(max_bytes int8,
                                                  OUT rows_dropped int8,
                                                  OUT size_before int8,
                                                  OUT size_after int8)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    now_start timestamptz := @extschema@.pgsm_current_bucket_start();
    p record;
    n int8;
    psize int8;
BEGIN
    rows_dropped := 0;
    size_before := @extschema@.pgsm_history_size();
    size_after := size_before;
    IF max_bytes <= 0 OR size_before <= max_bytes THEN
        RETURN;
    END IF;
    PERFORM @extschema@.pgsm_fold_totals();

    -- with a compaction at a time
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pg_stat_monitor compaction'));

    FOR p IN
        SELECT x.partition, x.kind
        FROM (SELECT e.partition, e.lower_bound, e.upper_bound, 1 AS kind
              FROM @extschema@.pgsm_partitions('@extschema@.pg_stat_monitor_entries') e
              UNION ALL
              SELECT c.partition, c.lower_bound, c.upper_bound, 2
              FROM @extschema@.pgsm_partitions('@extschema@.pg_stat_monitor_compact') c) x
        WHERE x.upper_bound <= now_start
        ORDER BY x.lower_bound, x.kind
    LOOP
        EXIT WHEN size_after <= max_bytes;
        IF p.kind = 1 THEN
            n := @extschema@.pgsm_rollup_partition(p.partition);
            -- what the rollups grew by counts
            size_after := @extschema@.pgsm_history_size();
        ELSE
            EXECUTE pg_catalog.format('SELECT coalesce(pg_catalog.sum(compact_rows), 0) FROM %s',
                                      p.partition) INTO n;
        END IF;
        psize := pg_catalog.pg_total_relation_size(p.partition);
        EXECUTE pg_catalog.format('DROP TABLE %s', p.partition);
        rows_dropped := rows_dropped + n;
        size_after := size_after - psize;
    END LOOP;

    IF size_after > max_bytes THEN
        rows_dropped := rows_dropped + @extschema@.pgsm_trim_present(max_bytes, size_after, now_start);
        size_after := @extschema@.pgsm_history_size();
    END IF;

    -- the rollups, last
    FOR p IN
        SELECT x.partition
        FROM (SELECT h.partition, h.lower_bound, 1 AS kind
              FROM @extschema@.pgsm_partitions('@extschema@.pg_stat_monitor_rollup_hour') h
              UNION ALL
              SELECT d.partition, d.lower_bound, 2
              FROM @extschema@.pgsm_partitions('@extschema@.pg_stat_monitor_rollup_day') d) x
        ORDER BY x.kind, x.lower_bound
    LOOP
        EXIT WHEN size_after <= max_bytes;
        psize := pg_catalog.pg_total_relation_size(p.partition);
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s', p.partition) INTO n;
        EXECUTE pg_catalog.format('DROP TABLE %s', p.partition);
        rows_dropped := rows_dropped + n;
        size_after := size_after - psize;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.pgsm_enforce_max_size(int8) FROM PUBLIC;

-- For pgsm_enforce_max_size, when the partitions of the present are over
-- the limit by themselves: the oldest rows of the entries partition
-- holding the bucket in progress go, down to half the limit; returns how
-- many.  "size" is history's size now.
CREATE FUNCTION @extschema@.pgsm_trim_present(max_bytes int8, size int8, now_start timestamptz)
RETURNS int8
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    n int8;
    psize int8;
    keep int8;
    cols text;
BEGIN
    SELECT e.partition INTO p
    FROM @extschema@.pgsm_partitions('@extschema@.pg_stat_monitor_entries') e
    WHERE now_start >= e.lower_bound AND now_start < e.upper_bound;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    psize := pg_catalog.pg_total_relation_size(p.partition);
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s', p.partition) INTO n;
    keep := greatest(0, (n::float8 * (max_bytes::float8 / 2 - (size - psize))
                         / greatest(psize, 1))::int8);
    IF keep >= n THEN
        RETURN 0;
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
    INTO cols
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) p.partition AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE pg_catalog.format(
        'CREATE TEMP TABLE pgsm_kept ON COMMIT DROP AS SELECT %s FROM %s '
        'ORDER BY bucket_start_time DESC, batch_id DESC LIMIT %s', cols, p.partition, keep);
    EXECUTE pg_catalog.format('TRUNCATE %s', p.partition);
    EXECUTE pg_catalog.format('INSERT INTO %s (%s) SELECT %s FROM pg_temp.pgsm_kept',
                              p.partition, cols, cols);
    DROP TABLE pg_temp.pgsm_kept;
    RETURN n - keep;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.pgsm_trim_present(int8, int8, timestamptz) FROM PUBLIC;

/*
 * The shape of history on each PostgreSQL version, in one place: the columns
 * of pg_stat_monitor (and of pg_stat_monitor_history and
 * pg_stat_monitor_live) as upstream pg_stat_monitor has them on that version,
 * in its order, each with the expression that gives it over the live store
 * (pg_stat_monitor_internal(), NULL: the column of that name) and over the
 * history table pg_stat_monitor_entries d (one row per export of an entry,
 * added back together per bucket).  A column is shown from server version
 * "since" up to, not including, "until".  "pgss" is the column's place in
 * pg_stat_statements' view of that version (pg_stat_monitor_statements),
 * NULL for a column pg_stat_statements does not have.  bucket_done is true
 * once the bucket has ended and is settled (pgsm_settled_until()), so that
 * a tool that reads each finished bucket once reads all of it.
 *
 * With with_server, the views over history have one more column, last:
 * server_name, the server the rows came from (a repository holds several).
 * pg_stat_monitor and pg_stat_monitor_live keep upstream's columns alone.
 *
 * The store, the exporter and pg_stat_monitor_entries carry every column on
 * every version, NULL where the version does not measure it; only the views
 * differ, so that history survives pg_upgrade to a later version unchanged
 * and pgsm_create_views() reshapes the views there.  On 15 and 16,
 * blk_read_time and blk_write_time count shared and local blocks together;
 * from 17 on, the same stored columns count shared blocks only, and the
 * local ones have columns of their own.  A bucket exported in several parts
 * (early flushes) is added back together: counts and times are summed,
 * minima and maxima kept, means and standard deviations recomputed from the
 * parts' sums of squares, histograms summed cell by cell.
 */
CREATE FUNCTION @extschema@.pgsm_view_columns(
    server_version int DEFAULT pg_catalog.current_setting('server_version_num')::int,
    with_server boolean DEFAULT false,
    OUT "position" int, OUT name text, OUT live text, OUT history text,
    OUT pgss int)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.row_number() OVER (ORDER BY c.pos)::int, c.name, c.live, c.history,
       c.pgss
FROM (VALUES
    (1, 'bucket', 0, NULL, NULL, 'd.bucket', NULL),
    (2, 'bucket_start_time', 0, NULL, NULL, 'd.bucket_start_time', NULL),
    (3, 'userid', 0, NULL, NULL, 'd.userid', 1),
    (4, 'username', 0, NULL, NULL, 'max(d.username)', NULL),
    (5, 'dbid', 0, NULL, NULL, 'd.dbid', 2),
    (6, 'datname', 0, NULL, NULL, 'max(d.datname)', NULL),
    (7, 'client_ip', 0, NULL, NULL, 'd.client_ip', NULL),
    (8, 'pgsm_query_id', 0, NULL, NULL, 'max(d.pgsm_query_id)', NULL),
    (9, 'queryid', 0, NULL, NULL, 'd.queryid', 4),
    (10, 'toplevel', 0, NULL, NULL, 'd.toplevel', 3),
    (11, 'top_queryid', 0, NULL, NULL, 'd.top_queryid', NULL),
    (12, 'query', 0, NULL, NULL,
     '(SELECT t.text FROM @extschema@.pg_stat_monitor_texts t WHERE t.text_id = min(d.query_text_id))', 5),
    (13, 'comments', 0, NULL, NULL, 'max(d.comments)', NULL),
    (14, 'planid', 0, NULL, NULL, 'd.planid', NULL),
    (15, 'query_plan', 0, NULL, NULL,
     '(SELECT t.text FROM @extschema@.pg_stat_monitor_texts t WHERE t.text_id = min(d.plan_text_id))', NULL),
    (16, 'top_query', 0, NULL, NULL,
     '(SELECT t.text FROM @extschema@.pg_stat_monitor_texts t WHERE t.text_id = min(d.top_query_text_id))', NULL),
    (17, 'application_name', 0, NULL, NULL, 'd.application_name', NULL),
    (18, 'relations', 0, NULL, NULL, 'max(d.relations)', NULL),
    (19, 'cmd_type', 0, NULL, NULL, 'max(d.cmd_type)', NULL),
    (20, 'cmd_type_text', 0, NULL, NULL, '@extschema@.get_cmd_type(max(d.cmd_type))', NULL),
    (21, 'elevel', 0, NULL, NULL, 'd.elevel', NULL),
    (22, 'sqlcode', 0, NULL, NULL, 'd.sqlcode', NULL),
    (23, 'message', 0, NULL, NULL, 'max(d.message)', NULL),
    (24, 'calls', 0, NULL, NULL, '@extschema@.pgsm_sum(d.calls)', 12),
    (25, 'total_exec_time', 0, NULL, NULL, 'sum(d.total_exec_time)', 13),
    (26, 'min_exec_time', 0, NULL, NULL,
     'coalesce(min(d.min_exec_time) FILTER (WHERE d.calls > 0), 0)', 14),
    (27, 'max_exec_time', 0, NULL, NULL,
     'coalesce(max(d.max_exec_time) FILTER (WHERE d.calls > 0), 0)', 15),
    (28, 'mean_exec_time', 0, NULL, NULL,
     'coalesce(sum(d.total_exec_time) / nullif(sum(d.calls), 0), 0)', 16),
    (29, 'stddev_exec_time', 0, NULL, NULL,
     'coalesce(sqrt(greatest(0, (sum(d.sum_var_exec_time) + sum(d.total_exec_time ^ 2 / d.calls) FILTER (WHERE d.calls > 0) - sum(d.total_exec_time) ^ 2 / nullif(sum(d.calls), 0)) / nullif(sum(d.calls), 0))), 0)', 17),
    (30, 'rows', 0, NULL, NULL, '@extschema@.pgsm_sum(d.rows)', 18),
    (31, 'shared_blks_hit', 0, NULL, NULL, '@extschema@.pgsm_sum(d.shared_blks_hit)', 19),
    (32, 'shared_blks_read', 0, NULL, NULL, '@extschema@.pgsm_sum(d.shared_blks_read)', 20),
    (33, 'shared_blks_dirtied', 0, NULL, NULL, '@extschema@.pgsm_sum(d.shared_blks_dirtied)', 21),
    (34, 'shared_blks_written', 0, NULL, NULL, '@extschema@.pgsm_sum(d.shared_blks_written)', 22),
    (35, 'local_blks_hit', 0, NULL, NULL, '@extschema@.pgsm_sum(d.local_blks_hit)', 23),
    (36, 'local_blks_read', 0, NULL, NULL, '@extschema@.pgsm_sum(d.local_blks_read)', 24),
    (37, 'local_blks_dirtied', 0, NULL, NULL, '@extschema@.pgsm_sum(d.local_blks_dirtied)', 25),
    (38, 'local_blks_written', 0, NULL, NULL, '@extschema@.pgsm_sum(d.local_blks_written)', 26),
    (39, 'temp_blks_read', 0, NULL, NULL, '@extschema@.pgsm_sum(d.temp_blks_read)', 27),
    (40, 'temp_blks_written', 0, NULL, NULL, '@extschema@.pgsm_sum(d.temp_blks_written)', 28),
    (41, 'blk_read_time', 0, 170000, NULL, 'sum(d.blk_read_time)', 29),
    (42, 'blk_write_time', 0, 170000, NULL, 'sum(d.blk_write_time)', 30),
    (43, 'shared_blk_read_time', 170000, NULL, 'blk_read_time', 'sum(d.blk_read_time)', 31),
    (44, 'shared_blk_write_time', 170000, NULL, 'blk_write_time', 'sum(d.blk_write_time)', 32),
    (45, 'local_blk_read_time', 170000, NULL, NULL, 'sum(d.local_blk_read_time)', 33),
    (46, 'local_blk_write_time', 170000, NULL, NULL, 'sum(d.local_blk_write_time)', 34),
    (47, 'temp_blk_read_time', 0, NULL, NULL, 'sum(d.temp_blk_read_time)', 35),
    (48, 'temp_blk_write_time', 0, NULL, NULL, 'sum(d.temp_blk_write_time)', 36),
    (49, 'resp_calls', 0, NULL, NULL, '@extschema@.pgsm_sum(d.resp_calls)::text[]', NULL),
    (50, 'cpu_user_time', 0, NULL, NULL, 'sum(d.cpu_user_time)', NULL),
    (51, 'cpu_sys_time', 0, NULL, NULL, 'sum(d.cpu_sys_time)', NULL),
    (52, 'wal_records', 0, NULL, NULL, '@extschema@.pgsm_sum(d.wal_records)', 37),
    (53, 'wal_fpi', 0, NULL, NULL, '@extschema@.pgsm_sum(d.wal_fpi)', 38),
    (54, 'wal_bytes', 0, NULL, NULL, 'sum(d.wal_bytes)', 39),
    (55, 'wal_buffers_full', 180000, NULL, NULL, '@extschema@.pgsm_sum(d.wal_buffers_full)', 40),
    (56, 'bucket_done', 0, NULL, NULL,
     'd.bucket_start_time < @extschema@.pgsm_current_bucket_start()'
     ' AND d.bucket_start_time + coalesce(current_setting(''pg_stat_monitor.pgsm_bucket_time'', true), ''60'')::interval'
     ' <= (SELECT @extschema@.pgsm_settled_until())', NULL),
    (57, 'plans', 0, NULL, NULL, '@extschema@.pgsm_sum(d.plans)', 6),
    (58, 'total_plan_time', 0, NULL, NULL, 'sum(d.total_plan_time)', 7),
    (59, 'min_plan_time', 0, NULL, NULL,
     'coalesce(min(d.min_plan_time) FILTER (WHERE d.plans > 0), 0)', 8),
    (60, 'max_plan_time', 0, NULL, NULL,
     'coalesce(max(d.max_plan_time) FILTER (WHERE d.plans > 0), 0)', 9),
    (61, 'mean_plan_time', 0, NULL, NULL,
     'coalesce(sum(d.total_plan_time) / nullif(sum(d.plans), 0), 0)', 10),
    (62, 'stddev_plan_time', 0, NULL, NULL,
     'coalesce(sqrt(greatest(0, (sum(d.sum_var_plan_time) + sum(d.total_plan_time ^ 2 / d.plans) FILTER (WHERE d.plans > 0) - sum(d.total_plan_time) ^ 2 / nullif(sum(d.plans), 0)) / nullif(sum(d.plans), 0))), 0)', 11),
    (63, 'jit_functions', 0, NULL, NULL, '@extschema@.pgsm_sum(d.jit_functions)', 41),
    (64, 'jit_generation_time', 0, NULL, NULL, 'sum(d.jit_generation_time)', 42),
    (65, 'jit_inlining_count', 0, NULL, NULL, '@extschema@.pgsm_sum(d.jit_inlining_count)', 43),
    (66, 'jit_inlining_time', 0, NULL, NULL, 'sum(d.jit_inlining_time)', 44),
    (67, 'jit_optimization_count', 0, NULL, NULL, '@extschema@.pgsm_sum(d.jit_optimization_count)', 45),
    (68, 'jit_optimization_time', 0, NULL, NULL, 'sum(d.jit_optimization_time)', 46),
    (69, 'jit_emission_count', 0, NULL, NULL, '@extschema@.pgsm_sum(d.jit_emission_count)', 47),
    (70, 'jit_emission_time', 0, NULL, NULL, 'sum(d.jit_emission_time)', 48),
    (71, 'jit_deform_count', 170000, NULL, NULL, '@extschema@.pgsm_sum(d.jit_deform_count)', 49),
    (72, 'jit_deform_time', 170000, NULL, NULL, 'sum(d.jit_deform_time)', 50),
    (73, 'parallel_workers_to_launch', 180000, NULL, 'parallel_workers_to_launch::int4',
     'sum(d.parallel_workers_to_launch)::int4', 51),
    (74, 'parallel_workers_launched', 180000, NULL, 'parallel_workers_launched::int4',
     'sum(d.parallel_workers_launched)::int4', 52),
    (75, 'stats_since', 170000, NULL, NULL, 'min(d.stats_since)', 53),
    (76, 'minmax_stats_since', 170000, NULL, NULL, 'min(d.stats_since)', 54),
    (100, 'server_name', 0, NULL, NULL, 'd.server_name', NULL)
) c(pos, name, since, until, live, history, pgss)
WHERE server_version >= c.since
  AND (c.until IS NULL OR server_version < c.until)
  AND (c.pos OPERATOR(pg_catalog.<) 100 OR with_server)
ORDER BY c.pos
$$;

/*
 * The time up to which history is settled: a bucket that ended by then will
 * get no more rows.  A statement is filed under the bucket it started in, so
 * that a bucket can still grow after its end: by the statements that started
 * in it and are still running (waited for as long as they have run for less
 * than a bucket's length: a longer one lands late), and by those that ended
 * since the last export and are still in the store.  Read in that order: a
 * statement that is no longer running has been recorded already.
 * Superusers and pg_read_all_stats see every session's query_start.
 */
CREATE FUNCTION @extschema@.pgsm_settled_until()
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    running timestamptz;
    held timestamptz;
BEGIN
    SELECT pg_catalog.min(a.query_start) INTO running
    FROM pg_catalog.pg_stat_activity a
    WHERE a.backend_type OPERATOR(pg_catalog.=) 'client backend'
      AND a.state OPERATOR(pg_catalog.=) ANY (ARRAY['active', 'fastpath function call'])
      AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
      AND a.query_start OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-)
          pg_catalog.make_interval(secs => @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_bucket_time')::float8));
    -- a repository that does not preload the library has no store
    IF pg_catalog.current_setting('pg_stat_monitor.pgsm_max', true) IS NOT NULL THEN
        SELECT pg_catalog.min(l.bucket_start_time) INTO held
        FROM @extschema@.pg_stat_monitor_internal(false) l;
    END IF;
    RETURN least(pg_catalog.now(), running, held);
END
$$;

-- Whether the worker exports to a repository (pgsm_export_target): then
-- this server's history tables get nothing
CREATE FUNCTION @extschema@.pgsm_exports_remotely()
RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'pgsm_exports_remotely';

-- Whether this database's pg_stat_monitor shows history: only the database
-- the worker exports to has any, and only while export is on to local
-- tables.  Elsewhere
-- (and with export off) it shows the store, as pg_stat_monitor does.
CREATE FUNCTION @extschema@.pgsm_shows_history()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.current_database() OPERATOR(pg_catalog.=)
                        pg_catalog.current_setting('pg_stat_monitor.pgsm_database', true)
                    AND pg_catalog.current_setting('pg_stat_monitor.pgsm_enable_table_export', true)::boolean
                    AND NOT @extschema@.pgsm_exports_remotely(),
                    false)
$$;

/*
 * pg_stat_statements' figures, kept up to date: one row per server, user,
 * database, level and query id (NULL: the calls folded into overflow rows), in the
 * stored form of pg_stat_monitor_entries (sums of squared deviations, so
 * that parts add up exactly), with every column any server version
 * measures.  The worker adds each batch it exports, in the same
 * transaction, so that reading the totals never scans history.
 * pg_stat_monitor_reset() empties it.  pg_stat_monitor_statements reads it.
 */
CREATE TABLE @extschema@.pg_stat_monitor_totals (
    userid oid NOT NULL,
    dbid oid NOT NULL,
    toplevel boolean NOT NULL,
    queryid int8,
    query text,
    plans int8 NOT NULL,
    total_plan_time float8 NOT NULL,
    min_plan_time float8 NOT NULL,
    max_plan_time float8 NOT NULL,
    sum_var_plan_time float8 NOT NULL,
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
    local_blk_read_time float8,
    local_blk_write_time float8,
    temp_blk_read_time float8 NOT NULL,
    temp_blk_write_time float8 NOT NULL,
    wal_records int8 NOT NULL,
    wal_fpi int8 NOT NULL,
    wal_bytes numeric NOT NULL,
    wal_buffers_full int8,
    jit_functions int8 NOT NULL,
    jit_generation_time float8 NOT NULL,
    jit_inlining_count int8 NOT NULL,
    jit_inlining_time float8 NOT NULL,
    jit_optimization_count int8 NOT NULL,
    jit_optimization_time float8 NOT NULL,
    jit_emission_count int8 NOT NULL,
    jit_emission_time float8 NOT NULL,
    jit_deform_count int8,
    jit_deform_time float8,
    parallel_workers_to_launch int8,
    parallel_workers_launched int8,
    stats_since timestamptz NOT NULL,
    server_name text NOT NULL
)
-- room on each page for the new versions of its rows: updated in place (HOT)
WITH (fillfactor = 50);

-- fixed-width columns first, the query id leading: each export looks up
-- every statement of its batch here, and a comparison that starts with
-- text (or any column after it) costs several times more
CREATE UNIQUE INDEX pg_stat_monitor_totals_key ON @extschema@.pg_stat_monitor_totals
    (queryid, userid, dbid, toplevel, server_name) NULLS NOT DISTINCT;

COMMENT ON TABLE @extschema@.pg_stat_monitor_totals IS
    'Running totals per server, user, database, level and query id since the last reset, added to at each export; read through pg_stat_monitor_statements';

/*
 * How parts of one entry add up, column by column of the stored form
 * (pg_stat_monitor_entries, pg_stat_monitor_totals): the expression that
 * gives column "col" of the whole from the parts' rows "p", an aggregate;
 * or, given the names of two rows "a" and "b", the expression that gives
 * it from those two (a running total and what is added to it, as
 * INSERT ... ON CONFLICT DO UPDATE has them).  Each rule is written here
 * once in both forms, side by side.  Counts and times are summed;
 * minima and maxima are those of the parts that have calls (or plans), 0
 * without any; sums of squared deviations are combined with the parts'
 * means; the first time seen is kept.  Of an entry's descriptive columns
 * (names, comments, text ids) one is kept, as the views do; histograms are
 * summed cell by cell.  NULLs are skipped as aggregates skip them (a
 * counter a server version does not measure).
 *
 * pgsm_combine_rule() names a column's rule, with the columns it reads
 * besides its own (the count of calls or plans, the total time);
 * pgsm_combine() writes it as SQL; the export worker follows the same
 * rules in C when it adds a batch to pg_stat_monitor_totals (src/totals.c).
 */
CREATE FUNCTION @extschema@.pgsm_combine_rule(col text, OUT rule text, OUT count_col text,
                                              OUT total_col text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE
           WHEN col OPERATOR(pg_catalog.=) ANY (ARRAY['query', 'stats_since', 'query_text_id',
                                                     'plan_text_id', 'top_query_text_id']) THEN 'least'
           WHEN col OPERATOR(pg_catalog.=) ANY (ARRAY['username', 'datname', 'pgsm_query_id', 'comments',
                                                     'relations', 'cmd_type', 'message']) THEN 'greatest'
           WHEN col OPERATOR(pg_catalog.=) 'resp_calls' THEN 'cells'
           WHEN col OPERATOR(pg_catalog.~) '^min_(exec|plan)_time$' THEN 'min'
           WHEN col OPERATOR(pg_catalog.~) '^max_(exec|plan)_time$' THEN 'max'
           WHEN col OPERATOR(pg_catalog.~) '^sum_var_(exec|plan)_time$' THEN 'variance'
           ELSE 'sum'
       END,
       CASE WHEN col OPERATOR(pg_catalog.~) 'plan_time$' THEN 'plans' ELSE 'calls' END,
       pg_catalog.replace(col, 'sum_var_', 'total_')
$$;

CREATE FUNCTION @extschema@.pgsm_combine(col text, a text DEFAULT NULL, b text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE r.rule
    WHEN 'least' THEN
        CASE WHEN pair THEN pg_catalog.format('least(%1$s.%3$I, %2$s.%3$I)', a, b, col)
             ELSE pg_catalog.format('min(p.%I)', col) END
    WHEN 'greatest' THEN
        CASE WHEN pair THEN pg_catalog.format('greatest(%1$s.%3$I, %2$s.%3$I)', a, b, col)
             ELSE pg_catalog.format('max(p.%I)', col) END
    WHEN 'cells' THEN
        CASE WHEN pair THEN pg_catalog.format('coalesce(@extschema@.pgsm_add_arrays(%1$s.%3$I, %2$s.%3$I),'
                                              ' %1$s.%3$I, %2$s.%3$I)', a, b, col)
             ELSE pg_catalog.format('@extschema@.pgsm_sum(p.%I)', col) END
    WHEN 'min' THEN
        CASE WHEN pair THEN pg_catalog.format('CASE WHEN %1$s.%4$I > 0 AND %2$s.%4$I > 0 THEN least(%1$s.%3$I, %2$s.%3$I)'
                                              ' WHEN %1$s.%4$I > 0 THEN %1$s.%3$I WHEN %2$s.%4$I > 0 THEN %2$s.%3$I'
                                              ' ELSE 0 END', a, b, col, r.count_col)
             ELSE pg_catalog.format('coalesce(min(p.%I) FILTER (WHERE p.%I > 0), 0)', col, r.count_col) END
    WHEN 'max' THEN
        CASE WHEN pair THEN pg_catalog.format('CASE WHEN %1$s.%4$I > 0 AND %2$s.%4$I > 0 THEN greatest(%1$s.%3$I, %2$s.%3$I)'
                                              ' WHEN %1$s.%4$I > 0 THEN %1$s.%3$I WHEN %2$s.%4$I > 0 THEN %2$s.%3$I'
                                              ' ELSE 0 END', a, b, col, r.count_col)
             ELSE pg_catalog.format('coalesce(max(p.%I) FILTER (WHERE p.%I > 0), 0)', col, r.count_col) END
    WHEN 'variance' THEN
        CASE WHEN pair THEN pg_catalog.format('CASE WHEN %1$s.%4$I + %2$s.%4$I > 0 THEN greatest(0, %1$s.%3$I + %2$s.%3$I'
                                              ' + CASE WHEN %1$s.%4$I > 0 THEN %1$s.%5$I ^ 2 / %1$s.%4$I ELSE 0 END'
                                              ' + CASE WHEN %2$s.%4$I > 0 THEN %2$s.%5$I ^ 2 / %2$s.%4$I ELSE 0 END'
                                              ' - (%1$s.%5$I + %2$s.%5$I) ^ 2 / (%1$s.%4$I + %2$s.%4$I)) ELSE 0 END',
                                              a, b, col, r.count_col, r.total_col)
             ELSE pg_catalog.format('coalesce(greatest(0, sum(p.%1$I) + sum(p.%2$I ^ 2 / p.%3$I) FILTER (WHERE p.%3$I > 0)'
                                    ' - sum(p.%2$I) ^ 2 / nullif(sum(p.%3$I), 0)), 0)',
                                    col, r.total_col, r.count_col) END
    ELSE
        CASE WHEN pair THEN pg_catalog.format('coalesce(%1$s.%3$I + %2$s.%3$I, %1$s.%3$I, %2$s.%3$I)', a, b, col)
             ELSE pg_catalog.format('@extschema@.pgsm_sum(p.%I)', col) END
END
FROM @extschema@.pgsm_combine_rule(col) r, (SELECT b IS NOT NULL) c(pair)
$$;

/*
 * Rollups.  History is also added up per statement and hour
 * (pg_stat_monitor_rollup_hour) and per statement and day
 * (pg_stat_monitor_rollup_day), UTC, each kept for a retention of its own
 * (pgsm_rollup_hourly_retention, pgsm_rollup_daily_retention) so that a
 * month-on-month comparison costs a small fixed amount.  A row of detail
 * is added to the rollups once, when it leaves pg_stat_monitor_entries:
 * compacted (pgsm_compact_before) or dropped by pgsm_retention
 * (pgsm_maintain_partitions) or by the size cap (an ended partition,
 * pgsm_enforce_max_size).  The detail still in pg_stat_monitor_entries is
 * added in when pg_stat_monitor_rollups is read, so the view covers all of
 * history.  Rows cut by the cap from the partition of the present (a
 * flood) are dropped, not rolled up: rolled up, they would take as much
 * room.
 */

-- The data-modifying WITH items that add the rows of "src" (a WITH item
-- with the columns of pg_stat_monitor_entries) to the rollups of every
-- grain kept, merging them with the rollup rows they join; the partitions
-- must exist (pgsm_rollup_ensure).  Starts with a comma, or is empty.
CREATE FUNCTION @extschema@.pgsm_rollup_ctes(src text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.string_agg(pg_catalog.format($f$,
        %1$s_old AS (
            DELETE FROM @extschema@.%2$I r
            USING (SELECT DISTINCT pg_catalog.date_bin(%3$L, m.bucket_start_time, '1970-01-01 00:00:00+00') AS rollup_start, %4$s
                   FROM %5$s m) k
            WHERE r.rollup_start OPERATOR(pg_catalog.=) k.rollup_start AND %6$s
            RETURNING r.*),
        %1$s_new AS (
            INSERT INTO @extschema@.%2$I (rollup_start, %7$s)
            SELECT p.rollup_start, %8$s
            FROM (SELECT rollup_start, %7$s FROM %1$s_old
                  UNION ALL
                  SELECT pg_catalog.date_bin(%3$L, m.bucket_start_time, '1970-01-01 00:00:00+00'), %7$s FROM %5$s m) p
            GROUP BY p.rollup_start, %9$s
            RETURNING 1)$f$,
            g.item, g.tbl, g.stride, c.keys_m, src, c.keymatch, c.cols, c.combined, c.keys_p), ''))
    FROM (VALUES ('rollup_hour', 'pg_stat_monitor_rollup_hour', interval '1 hour',
                  'pg_stat_monitor.pgsm_rollup_hourly_retention'),
                 ('rollup_day', 'pg_stat_monitor_rollup_day', interval '1 day',
                  'pg_stat_monitor.pgsm_rollup_daily_retention')) g(item, tbl, stride, setting),
         (SELECT pg_catalog.string_agg(pg_catalog.format('m.%I', x.name), ', ') FILTER (WHERE x.is_key) AS keys_m,
                 pg_catalog.string_agg(pg_catalog.format('r.%I IS NOT DISTINCT FROM k.%I', x.name, x.name), ' AND ')
                     FILTER (WHERE x.is_key) AS keymatch,
                 pg_catalog.string_agg(pg_catalog.quote_ident(x.name), ', ') AS cols,
                 pg_catalog.string_agg(CASE WHEN x.is_key THEN pg_catalog.format('p.%I', x.name)
                                            ELSE @extschema@.pgsm_combine(x.name) END, ', ') AS combined,
                 pg_catalog.string_agg(pg_catalog.format('p.%I', x.name), ', ') FILTER (WHERE x.is_key) AS keys_p
          FROM @extschema@.pgsm_rollup_columns() x) c
    WHERE @extschema@.pgsm_setting_seconds(g.setting) OPERATOR(pg_catalog.>) 0
$$;

-- Make the partitions of the rollups for the buckets from lo to hi
CREATE FUNCTION @extschema@.pgsm_rollup_ensure(lo timestamptz, hi timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl regclass;
    at timestamptz;
BEGIN
    IF lo IS NULL THEN
        RETURN;
    END IF;
    FOREACH tbl IN ARRAY ARRAY['@extschema@.pg_stat_monitor_rollup_hour'::pg_catalog.regclass,
                               '@extschema@.pg_stat_monitor_rollup_day'::pg_catalog.regclass]
    LOOP
        at := lo;
        WHILE at < hi LOOP
            PERFORM @extschema@.pgsm_ensure_partition(tbl, at);
            at := at OPERATOR(pg_catalog.+) pg_catalog.make_interval(
                secs => @extschema@.pgsm_partition_seconds(tbl)::float8);
        END LOOP;
        PERFORM @extschema@.pgsm_ensure_partition(tbl, hi);
    END LOOP;
END
$$;

-- Add the rows of a partition of pg_stat_monitor_entries about to be
-- dropped to the rollups; locked first, so that no row comes in between.
-- Returns the rows added.
CREATE FUNCTION @extschema@.pgsm_rollup_partition(part regclass)
RETURNS int8
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
    n int8;
BEGIN
    EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', part);
    EXECUTE pg_catalog.format('SELECT pg_catalog.min(bucket_start_time), pg_catalog.max(bucket_start_time) FROM %s', part)
    INTO lo, hi;
    IF lo IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM @extschema@.pgsm_compact_prepare();
    PERFORM @extschema@.pgsm_rollup_ensure(lo, hi);
    EXECUTE pg_catalog.format('WITH m AS (SELECT * FROM %s)%s SELECT pg_catalog.count(*) FROM m',
                              part, @extschema@.pgsm_rollup_ctes('m'))
    INTO n;
    RETURN n;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.pgsm_rollup_ctes(text),
    @extschema@.pgsm_rollup_ensure(timestamptz, timestamptz),
    @extschema@.pgsm_rollup_partition(regclass) FROM PUBLIC;

-- The size of history: every partition of the entries, the compact form
-- and the rollups, with TOAST and indexes; texts apart
CREATE FUNCTION @extschema@.pgsm_history_size()
RETURNS int8
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.sum(pg_catalog.pg_total_relation_size(p.partition)), 0)::int8
    FROM pg_catalog.unnest(ARRAY['@extschema@.pg_stat_monitor_entries', '@extschema@.pg_stat_monitor_compact',
                                 '@extschema@.pg_stat_monitor_rollup_hour', '@extschema@.pg_stat_monitor_rollup_day']) t,
         @extschema@.pgsm_partitions(pg_catalog.to_regclass(t)) p
$$;

/*
 * The statements of history (error rows left out: pg_stat_statements has
 * none) in the stored form of pg_stat_monitor_totals, in its columns'
 * order, as a query: those of the rows "e" of pg_stat_monitor_entries that
 * meet the condition "filter".
 */
CREATE FUNCTION @extschema@.pgsm_totals_source(filter text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'SELECT ' OPERATOR(pg_catalog.||)
           pg_catalog.string_agg(CASE a.attname
                                     WHEN 'query' THEN 'x.text'
                                     WHEN 'stats_since' THEN 'e.bucket_start_time'
                                     ELSE pg_catalog.format('e.%I', a.attname) END,
                                 ', ' ORDER BY a.attnum)
           OPERATOR(pg_catalog.||) ' FROM @extschema@.pg_stat_monitor_entries e'
           ' LEFT JOIN @extschema@.pg_stat_monitor_texts x ON x.text_id = e.query_text_id'
           ' WHERE e.elevel = 0 AND ('
           OPERATOR(pg_catalog.||) filter OPERATOR(pg_catalog.||) ')'
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) '@extschema@.pg_stat_monitor_totals'::pg_catalog.regclass
      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
$$;

/*
 * Add what batch "batch" of server "server" wrote to pg_stat_monitor_entries
 * (buckets starting at "since" or later, so that only their partitions are
 * read) to the totals; with NULL, add all of history instead: the totals of
 * a history written before they were kept.  A repository runs it in the
 * transaction that receives a batch; pgsm_fold_totals() for each batch a
 * local worker left pending.  The totals of the statements the batch has
 * are taken out and put back added up with it, and the batch (or every
 * batch) is no longer pending.
 */
CREATE FUNCTION @extschema@.pgsm_add_totals(batch int8, since timestamptz,
                                            server text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key constant text[] := ARRAY['server_name', 'userid', 'dbid', 'toplevel', 'queryid'];
    cols text;
    sums text;
    history text := @extschema@.pgsm_totals_source(
        CASE WHEN batch IS NULL THEN 'true'
             ELSE 'e.batch_id = $1 AND e.bucket_start_time >= $2 AND e.server_name = $3' END);
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
           pg_catalog.string_agg(CASE WHEN a.attname OPERATOR(pg_catalog.=) ANY (key)
                                      THEN pg_catalog.format('p.%I', a.attname)
                                      ELSE @extschema@.pgsm_combine(a.attname) END,
                                 ', ' ORDER BY a.attnum)
    INTO cols, sums
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) '@extschema@.pg_stat_monitor_totals'::pg_catalog.regclass
      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;

    EXECUTE pg_catalog.format(
        'WITH b AS (%1$s),'
        ' k AS (SELECT DISTINCT server_name, userid, dbid, toplevel, queryid FROM b),'
        ' old AS (DELETE FROM @extschema@.pg_stat_monitor_totals t USING k'
        '         WHERE t.server_name = k.server_name AND t.userid = k.userid'
        '           AND t.dbid = k.dbid AND t.toplevel = k.toplevel'
        '           AND t.queryid = k.queryid'
        '         RETURNING t.*),'
        -- overflow rows (queryid NULL) apart: with IS NOT DISTINCT FROM, the
        -- join could neither use the index nor hash, and compared every row
        -- of the batch with every total of the same user and database
        ' old_overflow AS (DELETE FROM @extschema@.pg_stat_monitor_totals t USING k'
        '         WHERE t.server_name = k.server_name AND t.userid = k.userid'
        '           AND t.dbid = k.dbid AND t.toplevel = k.toplevel'
        '           AND t.queryid IS NULL AND k.queryid IS NULL'
        '         RETURNING t.*)'
        ' INSERT INTO @extschema@.pg_stat_monitor_totals (%2$s)'
        ' SELECT %3$s FROM (SELECT * FROM old UNION ALL SELECT * FROM old_overflow'
        '                   UNION ALL SELECT * FROM b) p'
        ' GROUP BY p.server_name, p.userid, p.dbid, p.toplevel, p.queryid',
        history, cols, sums)
    USING batch, since, server;

    UPDATE @extschema@.pg_stat_monitor_exports x SET totals_pending_since = NULL
    WHERE x.totals_pending_since IS NOT NULL
      AND (batch IS NULL OR (x.batch_id = batch AND x.server_name = server));
END
$$;

/*
 * Add every batch still pending (pg_stat_monitor_exports.totals_pending_since),
 * or with "before", those with rows of buckets before it, to the totals,
 * from history, and return how many there were.  The export
 * worker adds its batches itself, from memory and without reading history,
 * every five minutes, when pg_stat_monitor_flush() asks, or once they take
 * maintenance_work_mem; this is what it falls back on when it restarted, or
 * failed, with batches pending.  Whatever deletes history
 * (partition upkeep, compaction, the size cap) runs it first, so that no
 * row leaves before it is in the totals (what it deletes, with "before").
 */
CREATE FUNCTION @extschema@.pgsm_fold_totals(before timestamptz DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b record;
    n int := 0;
BEGIN
    FOR b IN
        SELECT x.batch_id, x.totals_pending_since, x.server_name
        FROM @extschema@.pg_stat_monitor_exports x
        WHERE x.totals_pending_since OPERATOR(pg_catalog.<) coalesce(before, 'infinity')
        ORDER BY x.server_name, x.batch_id
        FOR UPDATE
    LOOP
        PERFORM @extschema@.pgsm_add_totals(b.batch_id, b.totals_pending_since, b.server_name);
        n := n OPERATOR(pg_catalog.+) 1;
    END LOOP;
    RETURN n;
END
$$;

/*
 * The statements of the batches not yet added to the totals (those with
 * pg_stat_monitor_exports.totals_pending_since), in the totals' stored
 * form: what pg_stat_monitor_statements and pg_stat_monitor_servers add to
 * pg_stat_monitor_totals meanwhile.  The batches and the start of their
 * first bucket are written into the query as constants, so that only the
 * partitions of their buckets are read, and in them only the block ranges
 * of those buckets (the BRIN index), however long history is.
 */
CREATE FUNCTION @extschema@.pgsm_totals_pending()
RETURNS SETOF @extschema@.pg_stat_monitor_totals
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    since timestamptz;
    batches text;
BEGIN
    SELECT pg_catalog.min(x.totals_pending_since),
           pg_catalog.string_agg(pg_catalog.format('(%L, %s)', x.server_name, x.batch_id), ', ')
    INTO since, batches
    FROM @extschema@.pg_stat_monitor_exports x
    WHERE x.totals_pending_since IS NOT NULL;
    IF since IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE @extschema@.pgsm_totals_source(pg_catalog.format(
        'e.bucket_start_time >= %L AND (e.server_name, e.batch_id) IN (%s)', since, batches));
END
$$;

-- the totals of the history written before this version
SELECT @extschema@.pgsm_add_totals(NULL, NULL, NULL);

-- Whether the script of this extension is running (CREATE or ALTER
-- EXTENSION): then what it creates joins the extension by itself.
CREATE FUNCTION @extschema@.pgsm_creating_extension()
RETURNS boolean
LANGUAGE c STABLE
AS 'MODULE_PATHNAME';

/*
 * (Re-)create the views over the store and history with the columns
 * pgsm_view_columns() gives for server_version (by default the running
 * server's): pg_stat_monitor_history, pg_stat_monitor_live, the materialized
 * view pgsm_recent, pg_stat_monitor (pgsm_recent in pgsm_database with
 * export on, the store elsewhere: see pgsm_shows_history()) and
 * pg_stat_monitor_statements (pg_stat_statements' view, over
 * pg_stat_monitor_totals and the store).  The
 * extension's scripts call it; after pg_upgrade from an earlier major
 * version, a superuser calls it once to give the views the new version's
 * columns (history itself needs nothing).  The materialized view comes back
 * empty: the worker's next refresh fills it.
 */
CREATE FUNCTION @extschema@.pgsm_create_views(server_version int DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ver int := coalesce(server_version,
                        pg_catalog.current_setting('server_version_num')::int);
    in_script boolean := @extschema@.pgsm_creating_extension();
    live text;
    hist text;
    stmts text;
    stored text;
    upstream text;
    rolled text;
    rkeys text;
    rcols text;
    v record;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s AS %I',
                                     coalesce(c.live, pg_catalog.quote_ident(c.name)), c.name),
                                 ', ' ORDER BY c.position),
           pg_catalog.string_agg(pg_catalog.quote_ident(c.name), ', ' ORDER BY c.position)
    INTO live, upstream
    FROM @extschema@.pgsm_view_columns(ver) c;
    -- history's views: upstream's columns, then the server
    SELECT pg_catalog.string_agg(pg_catalog.format('%s AS %I', c.history, c.name),
                                 ', ' ORDER BY c.position)
    INTO hist
    FROM @extschema@.pgsm_view_columns(ver, true) c;

    -- pg_stat_statements' columns over the totals and the store (the
    -- store's in the totals' stored form, in the table's order);
    -- pg_stat_statements counts parallel workers in int8
    SELECT pg_catalog.string_agg(pg_catalog.format('%s AS %I',
                                     CASE c.name WHEN 'query' THEN 'min(d.query)'
                                     ELSE pg_catalog.replace(c.history, '::int4', '::int8') END,
                                     c.name),
                                 ', ' ORDER BY c.pgss)
    INTO stmts
    FROM @extschema@.pgsm_view_columns(ver) c
    WHERE c.pgss IS NOT NULL;
    -- before 17, pg_stat_statements 1.10's columns, then 1.11's stats_since
    -- and minmax_stats_since
    IF ver < 170000 THEN
        stmts := stmts OPERATOR(pg_catalog.||)
            ', min(d.stats_since) AS stats_since, min(d.stats_since) AS minmax_stats_since';
    END IF;
    SELECT pg_catalog.string_agg(CASE a.attname
                                     WHEN 'sum_var_exec_time' THEN 'l.stddev_exec_time ^ 2 * l.calls'
                                     WHEN 'sum_var_plan_time' THEN 'l.stddev_plan_time ^ 2 * l.plans'
                                     WHEN 'stats_since' THEN 'l.bucket_start_time'
                                     WHEN 'server_name' THEN 'pg_catalog.current_setting(''pg_stat_monitor.pgsm_server_name'')'
                                     ELSE pg_catalog.format('l.%I', a.attname) END,
                                 ', ' ORDER BY a.attnum)
    INTO stored
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid OPERATOR(pg_catalog.=) '@extschema@.pg_stat_monitor_totals'::pg_catalog.regclass
      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;

    -- the views as they are, those that read others first (before 2.4,
    -- pg_stat_monitor was the materialized view)
    FOR v IN
        SELECT CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END AS kind, x.name
        FROM (VALUES (1, 'pg_stat_monitor'), (2, 'pg_stat_monitor_statements'),
                     (3, 'pgsm_recent'), (4, 'pg_stat_monitor_live'),
                     (5, 'pg_stat_monitor_history'), (6, 'pg_stat_monitor_rollups')) x(o, name)
        JOIN pg_catalog.pg_class c
            ON c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('@extschema@.' OPERATOR(pg_catalog.||) x.name)
        ORDER BY x.o
    LOOP
        IF NOT in_script THEN
            EXECUTE pg_catalog.format('ALTER EXTENSION pg_stat_monitor DROP %s @extschema@.%I',
                                      v.kind, v.name);
        END IF;
        EXECUTE pg_catalog.format('DROP %s @extschema@.%I', v.kind, v.name);
    END LOOP;

    -- Grouping by the columns of an entry's key, bucket_start_time first,
    -- lets a condition on bucket_start_time reach the partitions.
    -- the compact table has every column of pg_stat_monitor_entries
    PERFORM @extschema@.pgsm_compact_prepare();

    EXECUTE 'CREATE VIEW @extschema@.pg_stat_monitor_history AS SELECT ' OPERATOR(pg_catalog.||) hist
        OPERATOR(pg_catalog.||) ' FROM @extschema@.pgsm_history_rows d'
        ' GROUP BY d.bucket_start_time, d.server_name, d.bucket, d.userid, d.dbid, d.client_ip,'
        ' d.queryid, d.toplevel, d.top_queryid, d.planid, d.application_name,'
        ' d.elevel, d.sqlcode';
    COMMENT ON VIEW @extschema@.pg_stat_monitor_history IS
        'All of history, one row per bucket and statement, with pg_stat_monitor''s columns';

    -- The rollups with pg_stat_monitor's columns (those of a bucket
    -- apart) and server_name, as history has them, per hour and per day:
    -- the rollup tables and the detail not rolled up yet, added up together.
    SELECT pg_catalog.string_agg(pg_catalog.format('%s AS %I', c.history, c.name),
                                 ', ' ORDER BY c.position)
    INTO rolled
    FROM @extschema@.pgsm_view_columns(ver, true) c
    WHERE c.name OPERATOR(pg_catalog.<>) ALL (ARRAY['bucket', 'bucket_start_time', 'bucket_done']);
    SELECT pg_catalog.string_agg(pg_catalog.format('d.%I', x.name), ', ') FILTER (WHERE x.is_key),
           pg_catalog.string_agg(pg_catalog.quote_ident(x.name), ', ')
    INTO rkeys, rcols
    FROM @extschema@.pgsm_rollup_columns() x;
    EXECUTE pg_catalog.format(
        'CREATE VIEW @extschema@.pg_stat_monitor_rollups AS SELECT d.grain, d.rollup_start AS period_start, %1$s'
        ' FROM (SELECT ''hour''::text AS grain, rollup_start, %2$s FROM @extschema@.pg_stat_monitor_rollup_hour'
        ' UNION ALL SELECT ''day''::text, rollup_start, %2$s FROM @extschema@.pg_stat_monitor_rollup_day'
        ' UNION ALL SELECT g.grain, pg_catalog.date_bin(g.stride, e.bucket_start_time, ''1970-01-01 00:00:00+00''), %3$s'
        ' FROM @extschema@.pg_stat_monitor_entries e,'
        ' (VALUES (''hour''::text, interval ''1 hour''), (''day''::text, interval ''1 day'')) g(grain, stride)) d'
        ' GROUP BY d.grain, d.rollup_start, %4$s',
        rolled, rcols,
        (SELECT pg_catalog.string_agg(pg_catalog.format('e.%I', x.name), ', ')
         FROM @extschema@.pgsm_rollup_columns() x),
        rkeys);
    COMMENT ON VIEW @extschema@.pg_stat_monitor_rollups IS
        'History per statement and hour (grain ''hour'') or day (''day''), UTC, with pg_stat_monitor''s columns: the rollups and the detail not rolled up yet';

    EXECUTE 'CREATE VIEW @extschema@.pg_stat_monitor_live AS SELECT ' OPERATOR(pg_catalog.||) live
        OPERATOR(pg_catalog.||) ' FROM @extschema@.pg_stat_monitor_internal(true)'
        ' ORDER BY bucket_start_time';
    COMMENT ON VIEW @extschema@.pg_stat_monitor_live IS
        'What shared memory holds now: the bucket in progress and anything not exported yet; other users'' texts are masked';

    -- The last buckets of history.  Reading only their partitions, and the
    -- compact rows that reach them, the refresh does not grow with history.
    EXECUTE 'CREATE MATERIALIZED VIEW @extschema@.pgsm_recent AS SELECT '
        OPERATOR(pg_catalog.||) hist OPERATOR(pg_catalog.||) ' FROM ('
        OPERATOR(pg_catalog.||) @extschema@.pgsm_history_rows_sql(
            'c.compact_last >= @extschema@.pgsm_window_start()')
        OPERATOR(pg_catalog.||) ') d WHERE d.bucket_start_time >= @extschema@.pgsm_window_start()'
        ' GROUP BY d.bucket_start_time, d.server_name, d.bucket, d.userid, d.dbid, d.client_ip,'
        ' d.queryid, d.toplevel, d.top_queryid, d.planid, d.application_name,'
        ' d.elevel, d.sqlcode';
    COMMENT ON MATERIALIZED VIEW @extschema@.pgsm_recent IS
        'The last pgsm_max_buckets buckets of history, refreshed by the worker after each bucket';

    -- the key of an entry: what REFRESH ... CONCURRENTLY matches rows on
    CREATE UNIQUE INDEX pg_stat_monitor_entry_key ON @extschema@.pgsm_recent (
        server_name, bucket, userid, dbid, client_ip, queryid, toplevel, top_queryid,
        planid, application_name, elevel, sqlcode);

    -- Only one side is read: the other's condition is false before it
    -- starts.  Upstream's columns: the server is this one.
    EXECUTE 'CREATE VIEW @extschema@.pg_stat_monitor AS SELECT ' OPERATOR(pg_catalog.||) upstream
        OPERATOR(pg_catalog.||) ' FROM @extschema@.pgsm_recent'
        ' WHERE @extschema@.pgsm_shows_history()'
        ' UNION ALL'
        ' SELECT * FROM @extschema@.pg_stat_monitor_live'
        ' WHERE NOT @extschema@.pgsm_shows_history()';
    COMMENT ON VIEW @extschema@.pg_stat_monitor IS
        'In pgsm_database with export on, the last pgsm_max_buckets buckets of history (pgsm_recent); elsewhere, what shared memory holds';

    -- Error rows are left out, as pg_stat_statements has none.
    EXECUTE 'CREATE VIEW @extschema@.pg_stat_monitor_statements AS SELECT ' OPERATOR(pg_catalog.||) stmts
        OPERATOR(pg_catalog.||) ' FROM (SELECT * FROM @extschema@.pg_stat_monitor_totals t'
        ' WHERE t.server_name = coalesce(pg_catalog.current_setting(''pg_stat_monitor.pgsm_server_name'', true), t.server_name)'
        ' UNION ALL SELECT * FROM @extschema@.pgsm_totals_pending() w'
        ' WHERE w.server_name = coalesce(pg_catalog.current_setting(''pg_stat_monitor.pgsm_server_name'', true), w.server_name)'
        ' UNION ALL SELECT ' OPERATOR(pg_catalog.||) stored
        OPERATOR(pg_catalog.||) ' FROM @extschema@.pg_stat_monitor_internal(true) l WHERE l.elevel = 0) d'
        ' GROUP BY d.userid, d.dbid, d.toplevel, d.queryid';
    COMMENT ON VIEW @extschema@.pg_stat_monitor_statements IS
        'pg_stat_statements'' columns since the last reset: the totals of what this server exported (with the batches not yet added to them) plus what shared memory holds';

    REVOKE ALL ON @extschema@.pg_stat_monitor, @extschema@.pgsm_recent,
        @extschema@.pg_stat_monitor_statements, @extschema@.pg_stat_monitor_history,
        @extschema@.pg_stat_monitor_rollups FROM PUBLIC;
    GRANT SELECT ON @extschema@.pg_stat_monitor, @extschema@.pgsm_recent,
        @extschema@.pg_stat_monitor_statements, @extschema@.pg_stat_monitor_history,
        @extschema@.pg_stat_monitor_rollups
        TO pg_read_all_stats;
    GRANT SELECT ON @extschema@.pg_stat_monitor_live TO PUBLIC;

    IF NOT in_script THEN
        ALTER EXTENSION pg_stat_monitor ADD VIEW @extschema@.pg_stat_monitor_history;
        ALTER EXTENSION pg_stat_monitor ADD VIEW @extschema@.pg_stat_monitor_rollups;
        ALTER EXTENSION pg_stat_monitor ADD VIEW @extschema@.pg_stat_monitor_live;
        ALTER EXTENSION pg_stat_monitor ADD MATERIALIZED VIEW @extschema@.pgsm_recent;
        ALTER EXTENSION pg_stat_monitor ADD VIEW @extschema@.pg_stat_monitor;
        ALTER EXTENSION pg_stat_monitor ADD VIEW @extschema@.pg_stat_monitor_statements;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.pgsm_create_views(int),
    @extschema@.pgsm_add_totals(int8, timestamptz, text),
    @extschema@.pgsm_fold_totals(timestamptz), @extschema@.pgsm_totals_source(text),
    @extschema@.pgsm_totals_pending() FROM PUBLIC;
-- read by pg_stat_monitor_statements, as the user reading it
GRANT EXECUTE ON FUNCTION @extschema@.pgsm_totals_source(text),
    @extschema@.pgsm_totals_pending() TO pg_read_all_stats;
REVOKE ALL ON @extschema@.pg_stat_monitor_totals FROM PUBLIC;
GRANT SELECT ON @extschema@.pg_stat_monitor_totals TO pg_read_all_stats;

SELECT @extschema@.pgsm_create_views();

/*
 * The servers whose history this database holds (a repository holds
 * several, see docs/fleets.md), side by side: their exports kept (those of
 * the retention period) and their totals since the last reset.
 */
CREATE VIEW @extschema@.pg_stat_monitor_servers AS
SELECT x.server_name, x.batches, x.rows_exported, x.first_export, x.last_export,
       t.statements, t.calls, t.total_exec_time,
       t.total_exec_time OPERATOR(pg_catalog./) nullif(t.calls, 0) AS mean_exec_time,
       t.rows, t.shared_blks_read, t.wal_bytes
FROM (SELECT e.server_name, pg_catalog.count(*) AS batches,
             pg_catalog.sum(e.rows)::int8 AS rows_exported,
             pg_catalog.min(e.exported_at) AS first_export,
             pg_catalog.max(e.exported_at) AS last_export
      FROM @extschema@.pg_stat_monitor_exports e
      GROUP BY e.server_name) x
LEFT JOIN (SELECT s.server_name,
                  pg_catalog.count(*) FILTER (WHERE s.total)
                      OPERATOR(pg_catalog.+) pg_catalog.count(DISTINCT s.new_key) AS statements,
                  pg_catalog.sum(s.calls)::int8 AS calls,
                  pg_catalog.sum(s.total_exec_time) AS total_exec_time,
                  pg_catalog.sum(s.rows)::int8 AS rows,
                  pg_catalog.sum(s.shared_blks_read)::int8 AS shared_blks_read,
                  pg_catalog.sum(s.wal_bytes) AS wal_bytes
           FROM (SELECT t.server_name, true AS total, NULL::text AS new_key,
                        t.calls, t.total_exec_time, t.rows, t.shared_blks_read, t.wal_bytes
                 FROM @extschema@.pg_stat_monitor_totals t
                 -- the batches not yet added to the totals (the local
                 -- worker's, a moment after their export): their calls,
                 -- and their statements the totals do not have yet
                 UNION ALL
                 SELECT w.server_name, false,
                        CASE WHEN NOT EXISTS (
                                 SELECT FROM @extschema@.pg_stat_monitor_totals t
                                 WHERE t.server_name = w.server_name AND t.userid = w.userid
                                   AND t.dbid = w.dbid AND t.toplevel = w.toplevel
                                   AND (t.queryid = w.queryid OR (t.queryid IS NULL AND w.queryid IS NULL)))
                             THEN pg_catalog.concat_ws(' ', w.userid, w.dbid, w.toplevel, w.queryid) END,
                        w.calls, w.total_exec_time, w.rows, w.shared_blks_read, w.wal_bytes
                 FROM @extschema@.pgsm_totals_pending() w) s
           GROUP BY s.server_name) t
    ON t.server_name OPERATOR(pg_catalog.=) x.server_name;
COMMENT ON VIEW @extschema@.pg_stat_monitor_servers IS
    'The servers whose history this database holds: their exports and their totals since the last reset';
REVOKE ALL ON @extschema@.pg_stat_monitor_servers FROM PUBLIC;
GRANT SELECT ON @extschema@.pg_stat_monitor_servers TO pg_read_all_stats;

-- The histograms the current user may see, wherever they are (in shared
-- memory, in history, or both for a bucket exported early): their own
-- statements' only, unless they are a superuser or have the privileges of
-- pg_read_all_stats.  histogram() reads it; the history tables themselves
-- stay closed to PUBLIC.  A security barrier keeps functions of the user's
-- own from seeing rows before the filter.
CREATE VIEW @extschema@.pgsm_histograms WITH (security_barrier) AS
    SELECT h.bucket_start_time, h.bucket, h.queryid, h.userid, h.resp_calls
    FROM (SELECT l.bucket_start_time, l.bucket, l.queryid, l.userid,
                 l.resp_calls::int8[] AS resp_calls
          FROM @extschema@.pg_stat_monitor_internal(true) l
          UNION ALL
          SELECT d.bucket_start_time, d.bucket, d.queryid, d.userid, d.resp_calls
          FROM @extschema@.pgsm_history_rows d) h
    WHERE h.userid = (SELECT r.oid FROM pg_catalog.pg_roles r
                      WHERE r.rolname = CURRENT_USER)
       OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE');

-- The response-time histogram of one query in one bucket, with a bar
-- chart, over what the caller may see (pgsm_histograms).  A bucket is
-- looked for where the current pgsm_bucket_time puts it (which reaches the
-- partition), else, after a change of length, as the latest bucket of that
-- number.
CREATE FUNCTION @extschema@.histogram(_bucket int8, _quryid int8,
                                      OUT range text, OUT freq int, OUT bar text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT h.range, h.freq,
           pg_catalog.repeat('■', (h.freq::float8 OPERATOR(pg_catalog./)
                                   nullif(pg_catalog.max(h.freq) OVER (), 0)
                                   OPERATOR(pg_catalog.*) 30)::int)
    FROM (SELECT x.range, pg_catalog.sum(x.freq)::int AS freq, x.pos
          FROM (SELECT v.resp_calls FROM @extschema@.pgsm_histograms v
                WHERE v.bucket = _bucket AND v.queryid = _quryid
                  AND v.bucket_start_time = coalesce(
                      (SELECT s.t
                       FROM (SELECT pg_catalog.to_timestamp((_bucket OPERATOR(pg_catalog.*)
                                 @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_bucket_time'))::float8)) s(t)
                       WHERE EXISTS (SELECT FROM @extschema@.pgsm_histograms w
                                     WHERE w.bucket_start_time = s.t
                                       AND w.bucket = _bucket AND w.queryid = _quryid)),
                      (SELECT pg_catalog.max(w.bucket_start_time)
                       FROM @extschema@.pgsm_histograms w
                       WHERE w.bucket = _bucket AND w.queryid = _quryid))) m,
               ROWS FROM (pg_catalog.unnest(@extschema@.range()),
                          pg_catalog.unnest(m.resp_calls))
                   WITH ORDINALITY AS x(range, freq, pos)
          GROUP BY x.pos, x.range) h
    ORDER BY h.pos
$$;

/*
 * histogram() as pg_stat_monitor declares it: an int bucket and a result of
 * type record, called with a column definition list,
 *   SELECT * FROM histogram(b, q) AS a(range text, freq int, bar text)
 * where b is an int.  A call with an int8 bucket (the type of the bucket
 * column here) goes to the version above, which has OUT parameters and
 * takes no column definition list.
 */
CREATE FUNCTION @extschema@.histogram(_bucket int, _quryid int8)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT h.range, h.freq, h.bar
    FROM @extschema@.histogram(_bucket::pg_catalog.int8, _quryid) h
$$;

/*
 * pg_stat_replication_slots and pg_stat_subscription_stats only show running
 * totals since the last reset, and crash recovery throws them away.  At every
 * bucket boundary the background worker calls pgsm_snapshot_decoding(), which
 * copies both views into the three history tables below; the *_deltas views
 * turn consecutive snapshots into per-bucket deltas and per-second rates, and
 * pg_stat_monitor_decoding_advice() sums them over a window.
 *
 * The tables are RANGE-partitioned on bucket_start_time like
 * pg_stat_monitor_entries, so pgsm_maintain_partitions() creates and drops
 * their partitions with the same span and retention.
 */

CREATE TABLE @extschema@.pg_stat_monitor_decoding_snapshots (
    bucket_start_time timestamptz NOT NULL,
    taken_at timestamptz NOT NULL,
    logical_decoding_work_mem int8 NOT NULL,
    postmaster_start_time timestamptz,
    wal_stats_reset timestamptz,
    archiver_stats_reset timestamptz,
    PRIMARY KEY (bucket_start_time)
) PARTITION BY RANGE (bucket_start_time);

COMMENT ON TABLE @extschema@.pg_stat_monitor_decoding_snapshots IS
    'One row per snapshot of the logical decoding statistics, taken at the end of the bucket that starts at bucket_start_time';
COMMENT ON COLUMN @extschema@.pg_stat_monitor_decoding_snapshots.logical_decoding_work_mem IS
    'logical_decoding_work_mem in force when the snapshot was taken, in bytes';
COMMENT ON COLUMN @extschema@.pg_stat_monitor_decoding_snapshots.wal_stats_reset IS
    'stats_reset of pg_stat_wal; equal to archiver_stats_reset after the server lost its statistics (crash recovery, immediate shutdown)';

-- One row per logical replication slot and snapshot: pg_stat_replication_slots
-- as it was, with what tells a re-created slot from the old one
CREATE TABLE @extschema@.pg_stat_monitor_slot_history (
    bucket_start_time timestamptz NOT NULL,
    slot_name name NOT NULL,
    plugin name,
    database name,
    temporary boolean,
    two_phase boolean,
    spill_txns int8 NOT NULL,
    spill_count int8 NOT NULL,
    spill_bytes int8 NOT NULL,
    stream_txns int8 NOT NULL,
    stream_count int8 NOT NULL,
    stream_bytes int8 NOT NULL,
    total_txns int8 NOT NULL,
    total_bytes int8 NOT NULL,
    stats_reset timestamptz,
    PRIMARY KEY (bucket_start_time, slot_name)
) PARTITION BY RANGE (bucket_start_time);

COMMENT ON TABLE @extschema@.pg_stat_monitor_slot_history IS
    'pg_stat_replication_slots at the end of each bucket: running totals, see pg_stat_monitor_slot_deltas for what happened in each bucket';

-- One row per subscription and snapshot: pg_stat_subscription_stats as it was
CREATE TABLE @extschema@.pg_stat_monitor_subscription_history (
    bucket_start_time timestamptz NOT NULL,
    subid oid NOT NULL,
    subname name NOT NULL,
    enabled boolean,
    streaming text,
    sub_slot_name name,
    apply_error_count int8 NOT NULL,
    sync_error_count int8 NOT NULL,
    stats_reset timestamptz,
    -- conflicts met in applying changes: PostgreSQL 18 on, NULL before
    confl_insert_exists int8,
    confl_update_origin_differs int8,
    confl_update_exists int8,
    confl_update_missing int8,
    confl_delete_origin_differs int8,
    confl_delete_missing int8,
    confl_multiple_unique_conflicts int8,
    PRIMARY KEY (bucket_start_time, subid)
) PARTITION BY RANGE (bucket_start_time);

COMMENT ON TABLE @extschema@.pg_stat_monitor_subscription_history IS
    'pg_stat_subscription_stats at the end of each bucket, with the subscription''s streaming option and slot';

/*
 * Take one snapshot, for the bucket that starts at bucket_start (the worker
 * passes the start of the bucket that has just ended).
 *
 * Cheap, and quiet on a server with no slots or subscriptions.  Does nothing
 * on a standby, for a bucket already recorded (a retry), or for a bucket
 * older than the newest one recorded: deltas are taken between consecutive
 * snapshots, which must therefore be in the order they were taken.
 */
CREATE FUNCTION @extschema@.pgsm_snapshot_decoding(bucket_start timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF bucket_start IS NULL OR pg_catalog.pg_is_in_recovery() THEN
        RETURN;
    END IF;

    PERFORM @extschema@.pgsm_ensure_partition(t, bucket_start)
    FROM pg_catalog.unnest(ARRAY['@extschema@.pg_stat_monitor_decoding_snapshots',
                      '@extschema@.pg_stat_monitor_slot_history',
                      '@extschema@.pg_stat_monitor_subscription_history']::pg_catalog.regclass[]) AS t;

    -- one snapshot at a time; readers are not blocked
    LOCK TABLE ONLY @extschema@.pg_stat_monitor_decoding_snapshots
        IN SHARE ROW EXCLUSIVE MODE;

    IF EXISTS (SELECT 1 FROM @extschema@.pg_stat_monitor_decoding_snapshots
               WHERE bucket_start_time >= bucket_start) THEN
        RETURN;
    END IF;

    INSERT INTO @extschema@.pg_stat_monitor_decoding_snapshots
        (bucket_start_time, taken_at, logical_decoding_work_mem,
         postmaster_start_time, wal_stats_reset, archiver_stats_reset)
    SELECT bucket_start, pg_catalog.clock_timestamp(),
           pg_catalog.pg_size_bytes(current_setting('logical_decoding_work_mem')),
           pg_catalog.pg_postmaster_start_time(), w.stats_reset, a.stats_reset
    FROM pg_catalog.pg_stat_wal w, pg_stat_archiver a
    ON CONFLICT DO NOTHING;

    INSERT INTO @extschema@.pg_stat_monitor_slot_history
        (bucket_start_time, slot_name, plugin, database, temporary, two_phase,
         spill_txns, spill_count, spill_bytes, stream_txns, stream_count,
         stream_bytes, total_txns, total_bytes, stats_reset)
    SELECT bucket_start, s.slot_name, r.plugin, r.database, r.temporary,
           r.two_phase, s.spill_txns, s.spill_count, s.spill_bytes,
           s.stream_txns, s.stream_count, s.stream_bytes, s.total_txns,
           s.total_bytes, s.stats_reset
    FROM pg_catalog.pg_stat_replication_slots s
         LEFT JOIN pg_catalog.pg_replication_slots r ON r.slot_name = s.slot_name
    ON CONFLICT DO NOTHING;

    INSERT INTO @extschema@.pg_stat_monitor_subscription_history
        (bucket_start_time, subid, subname, enabled, streaming, sub_slot_name,
         apply_error_count, sync_error_count, stats_reset,
         confl_insert_exists, confl_update_origin_differs, confl_update_exists,
         confl_update_missing, confl_delete_origin_differs, confl_delete_missing,
         confl_multiple_unique_conflicts)
    -- the option as CREATE SUBSCRIPTION spells it: substream is a boolean
    -- up to PostgreSQL 15 and a letter from 16 on
    SELECT bucket_start, s.subid, s.subname, p.subenabled,
           CASE p.substream::text
               WHEN 'false' THEN 'off' WHEN 'f' THEN 'off'
               WHEN 'true' THEN 'on' WHEN 't' THEN 'on'
               WHEN 'p' THEN 'parallel'
               ELSE p.substream::text
           END,
           p.subslotname, s.apply_error_count, s.sync_error_count,
           s.stats_reset,
           -- conflict counters: PostgreSQL 18 on, NULL before
           (j OPERATOR(pg_catalog.->>) 'confl_insert_exists')::int8,
           (j OPERATOR(pg_catalog.->>) 'confl_update_origin_differs')::int8,
           (j OPERATOR(pg_catalog.->>) 'confl_update_exists')::int8,
           (j OPERATOR(pg_catalog.->>) 'confl_update_missing')::int8,
           (j OPERATOR(pg_catalog.->>) 'confl_delete_origin_differs')::int8,
           (j OPERATOR(pg_catalog.->>) 'confl_delete_missing')::int8,
           (j OPERATOR(pg_catalog.->>) 'confl_multiple_unique_conflicts')::int8
    FROM pg_catalog.pg_stat_subscription_stats s
         LEFT JOIN pg_catalog.pg_subscription p ON p.oid = s.subid
         CROSS JOIN LATERAL pg_catalog.to_jsonb(s.*) j
    ON CONFLICT DO NOTHING;
END
$$;

COMMENT ON FUNCTION @extschema@.pgsm_snapshot_decoding(timestamptz) IS
    'Copies pg_stat_replication_slots and pg_stat_subscription_stats into the history tables; called by the worker at each bucket boundary';

/*
 * What each slot did in each bucket.  A row compares a snapshot with the one
 * just before it.  The counters start a new series (new_series says why)
 * when that earlier snapshot lacks the slot, when the server lost its
 * statistics in between, when the slot's plugin, database or options differ
 * or its stats_reset went back to NULL (a new slot has none), when
 * stats_reset changed otherwise, or when any counter went down.  All of these
 * mean the counters restarted from zero after the earlier snapshot, so the
 * delta of such a row is the counters themselves: never negative, and never
 * more than what happened in the bucket.  With no earlier snapshot at all,
 * the deltas are NULL.
 */
CREATE VIEW @extschema@.pg_stat_monitor_slot_deltas AS
SELECT c.bucket_start_time,
       c.slot_name,
       p.taken_at AS interval_start,
       s.taken_at AS interval_end,
       extract(epoch FROM s.taken_at - p.taken_at) AS seconds,
       r.new_series,
       d.spill_txns, d.spill_count, d.spill_bytes,
       d.stream_txns, d.stream_count, d.stream_bytes,
       d.total_txns, d.total_bytes,
       round(d.spill_bytes / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 2)
           AS spill_bytes_per_sec,
       round(d.stream_bytes / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 2)
           AS stream_bytes_per_sec,
       round(d.total_bytes / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 2)
           AS total_bytes_per_sec,
       round(d.spill_txns / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS spill_txns_per_sec,
       round(d.stream_txns / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS stream_txns_per_sec,
       round(d.total_txns / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS total_txns_per_sec,
       s.logical_decoding_work_mem
FROM @extschema@.pg_stat_monitor_slot_history c
     JOIN @extschema@.pg_stat_monitor_decoding_snapshots s
         ON s.bucket_start_time = c.bucket_start_time
     LEFT JOIN LATERAL (
         SELECT e.bucket_start_time, e.taken_at
         FROM @extschema@.pg_stat_monitor_decoding_snapshots e
         WHERE e.bucket_start_time < s.bucket_start_time
         ORDER BY e.bucket_start_time DESC
         LIMIT 1) p ON true
     LEFT JOIN @extschema@.pg_stat_monitor_slot_history o
         ON o.bucket_start_time = p.bucket_start_time
        AND o.slot_name = c.slot_name
     CROSS JOIN LATERAL (
         SELECT CASE
             WHEN p.bucket_start_time IS NULL THEN 'no earlier snapshot'
             WHEN o.slot_name IS NULL THEN 'slot created'
             WHEN s.wal_stats_reset = s.archiver_stats_reset
                  AND s.wal_stats_reset > p.taken_at THEN 'statistics lost'
             WHEN (c.plugin, c.database, c.temporary, c.two_phase)
                  IS DISTINCT FROM (o.plugin, o.database, o.temporary, o.two_phase)
                  OR (c.stats_reset IS NULL AND o.stats_reset IS NOT NULL)
                 THEN 'slot re-created'
             WHEN c.stats_reset IS DISTINCT FROM o.stats_reset THEN 'statistics reset'
             WHEN c.spill_txns < o.spill_txns OR c.spill_count < o.spill_count
                  OR c.spill_bytes < o.spill_bytes OR c.stream_txns < o.stream_txns
                  OR c.stream_count < o.stream_count OR c.stream_bytes < o.stream_bytes
                  OR c.total_txns < o.total_txns OR c.total_bytes < o.total_bytes
                 THEN 'counters went down'
         END AS new_series) r
     CROSS JOIN LATERAL (
         SELECT CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.spill_txns - o.spill_txns
                     ELSE c.spill_txns END AS spill_txns,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.spill_count - o.spill_count
                     ELSE c.spill_count END AS spill_count,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.spill_bytes - o.spill_bytes
                     ELSE c.spill_bytes END AS spill_bytes,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.stream_txns - o.stream_txns
                     ELSE c.stream_txns END AS stream_txns,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.stream_count - o.stream_count
                     ELSE c.stream_count END AS stream_count,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.stream_bytes - o.stream_bytes
                     ELSE c.stream_bytes END AS stream_bytes,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.total_txns - o.total_txns
                     ELSE c.total_txns END AS total_txns,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.total_bytes - o.total_bytes
                     ELSE c.total_bytes END AS total_bytes) d;

COMMENT ON VIEW @extschema@.pg_stat_monitor_slot_deltas IS
    'What each logical replication slot decoded, spilled and streamed in each bucket, with per-second rates';

-- What each subscription's workers did in each bucket, by the same rules
CREATE VIEW @extschema@.pg_stat_monitor_subscription_deltas AS
SELECT c.bucket_start_time,
       c.subid,
       c.subname,
       c.streaming,
       c.sub_slot_name,
       p.taken_at AS interval_start,
       s.taken_at AS interval_end,
       extract(epoch FROM s.taken_at - p.taken_at) AS seconds,
       r.new_series,
       d.apply_error_count,
       d.sync_error_count,
       round(d.apply_error_count / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS apply_errors_per_sec,
       round(d.sync_error_count / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS sync_errors_per_sec,
       d.confl_insert_exists,
       d.confl_update_origin_differs,
       d.confl_update_exists,
       d.confl_update_missing,
       d.confl_delete_origin_differs,
       d.confl_delete_missing,
       d.confl_multiple_unique_conflicts
FROM @extschema@.pg_stat_monitor_subscription_history c
     JOIN @extschema@.pg_stat_monitor_decoding_snapshots s
         ON s.bucket_start_time = c.bucket_start_time
     LEFT JOIN LATERAL (
         SELECT e.bucket_start_time, e.taken_at
         FROM @extschema@.pg_stat_monitor_decoding_snapshots e
         WHERE e.bucket_start_time < s.bucket_start_time
         ORDER BY e.bucket_start_time DESC
         LIMIT 1) p ON true
     LEFT JOIN @extschema@.pg_stat_monitor_subscription_history o
         ON o.bucket_start_time = p.bucket_start_time
        AND o.subid = c.subid
     CROSS JOIN LATERAL (
         SELECT CASE
             WHEN p.bucket_start_time IS NULL THEN 'no earlier snapshot'
             WHEN o.subid IS NULL THEN 'subscription created'
             WHEN s.wal_stats_reset = s.archiver_stats_reset
                  AND s.wal_stats_reset > p.taken_at THEN 'statistics lost'
             WHEN c.stats_reset IS DISTINCT FROM o.stats_reset THEN 'statistics reset'
             WHEN c.apply_error_count < o.apply_error_count
                  OR c.sync_error_count < o.sync_error_count
                  OR c.confl_insert_exists < o.confl_insert_exists
                  OR c.confl_update_origin_differs < o.confl_update_origin_differs
                  OR c.confl_update_exists < o.confl_update_exists
                  OR c.confl_update_missing < o.confl_update_missing
                  OR c.confl_delete_origin_differs < o.confl_delete_origin_differs
                  OR c.confl_delete_missing < o.confl_delete_missing
                  OR c.confl_multiple_unique_conflicts < o.confl_multiple_unique_conflicts
                 THEN 'counters went down'
         END AS new_series) r
     CROSS JOIN LATERAL (
         SELECT CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.apply_error_count - o.apply_error_count
                     ELSE c.apply_error_count END AS apply_error_count,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.sync_error_count - o.sync_error_count
                     ELSE c.sync_error_count END AS sync_error_count,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.confl_insert_exists - o.confl_insert_exists
                     ELSE c.confl_insert_exists END AS confl_insert_exists,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.confl_update_origin_differs - o.confl_update_origin_differs
                     ELSE c.confl_update_origin_differs END AS confl_update_origin_differs,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.confl_update_exists - o.confl_update_exists
                     ELSE c.confl_update_exists END AS confl_update_exists,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.confl_update_missing - o.confl_update_missing
                     ELSE c.confl_update_missing END AS confl_update_missing,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.confl_delete_origin_differs - o.confl_delete_origin_differs
                     ELSE c.confl_delete_origin_differs END AS confl_delete_origin_differs,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.confl_delete_missing - o.confl_delete_missing
                     ELSE c.confl_delete_missing END AS confl_delete_missing,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.confl_multiple_unique_conflicts - o.confl_multiple_unique_conflicts
                     ELSE c.confl_multiple_unique_conflicts END AS confl_multiple_unique_conflicts) d;

COMMENT ON VIEW @extschema@.pg_stat_monitor_subscription_deltas IS
    'Apply and table synchronization errors of each subscription in each bucket, with per-second rates';

/*
 * Per slot, over the buckets that start in [since, until): how much was
 * decoded, what share of it spilled to disk or was streamed before commit,
 * and, where a share reaches min_share_pct, a hint in plain words.
 *
 * Spilling is counted when it happens and decoding at commit, so a window
 * that cuts a large transaction in two can see more spilled than decoded;
 * the shares are capped at 100.
 */
CREATE FUNCTION @extschema@.pg_stat_monitor_decoding_advice(
    since timestamptz DEFAULT pg_catalog.now() - interval '1 hour',
    until timestamptz DEFAULT pg_catalog.now(),
    min_share_pct numeric DEFAULT 10,
    OUT slot_name name,
    OUT buckets int8,
    OUT seconds numeric,
    OUT total_txns numeric,
    OUT total_bytes numeric,
    OUT spill_txns numeric,
    OUT spill_count numeric,
    OUT spill_bytes numeric,
    OUT stream_txns numeric,
    OUT stream_count numeric,
    OUT stream_bytes numeric,
    OUT spilled_pct numeric,
    OUT streamed_pct numeric,
    OUT logical_decoding_work_mem text,
    OUT hint text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT a.slot_name, a.buckets, a.seconds,
       a.total_txns, a.total_bytes, a.spill_txns, a.spill_count, a.spill_bytes,
       a.stream_txns, a.stream_count, a.stream_bytes,
       sh.spilled_pct, sh.streamed_pct,
       pg_catalog.pg_size_pretty(a.work_mem),
       CASE
           WHEN sh.spilled_pct >= min_share_pct AND a.stream_txns = 0 THEN
               pg_catalog.format('%s%% of the bytes decoded for this slot were spilled to disk (%s in %s transaction%s). '
                      'Raise logical_decoding_work_mem (%s) above the size of the largest transactions, '
                      'or, if a subscription reads this slot, let it stream them: streaming = on, '
                      'or parallel from PostgreSQL 16 on (the default from 18).',
                      sh.spilled_pct, pg_catalog.pg_size_pretty(a.spill_bytes), a.spill_txns,
                      CASE WHEN a.spill_txns = 1 THEN '' ELSE 's' END,
                      pg_catalog.pg_size_pretty(a.work_mem))
           WHEN sh.spilled_pct >= min_share_pct THEN
               pg_catalog.format('%s%% of the bytes decoded for this slot were spilled to disk (%s in %s transaction%s), '
                      'although the slot streams large transactions. '
                      'Raise logical_decoding_work_mem (%s) above the size of the largest transactions.',
                      sh.spilled_pct, pg_catalog.pg_size_pretty(a.spill_bytes), a.spill_txns,
                      CASE WHEN a.spill_txns = 1 THEN '' ELSE 's' END,
                      pg_catalog.pg_size_pretty(a.work_mem))
           WHEN sh.streamed_pct >= min_share_pct THEN
               pg_catalog.format('%s%% of the bytes decoded for this slot were streamed before commit (%s in %s transaction%s). '
                      'That is what streaming = on (or parallel) is for; if the subscriber applies them slowly and the publisher '
                      'has memory to spare, raise logical_decoding_work_mem (%s).',
                      sh.streamed_pct, pg_catalog.pg_size_pretty(a.stream_bytes), a.stream_txns,
                      CASE WHEN a.stream_txns = 1 THEN '' ELSE 's' END,
                      pg_catalog.pg_size_pretty(a.work_mem))
       END
FROM (SELECT d.slot_name,
             pg_catalog.count(d.total_bytes) AS buckets,
             coalesce(pg_catalog.sum(d.seconds) FILTER (WHERE d.total_bytes IS NOT NULL), 0) AS seconds,
             coalesce(pg_catalog.sum(d.total_txns), 0) AS total_txns,
             coalesce(pg_catalog.sum(d.total_bytes), 0) AS total_bytes,
             coalesce(pg_catalog.sum(d.spill_txns), 0) AS spill_txns,
             coalesce(pg_catalog.sum(d.spill_count), 0) AS spill_count,
             coalesce(pg_catalog.sum(d.spill_bytes), 0) AS spill_bytes,
             coalesce(pg_catalog.sum(d.stream_txns), 0) AS stream_txns,
             coalesce(pg_catalog.sum(d.stream_count), 0) AS stream_count,
             coalesce(pg_catalog.sum(d.stream_bytes), 0) AS stream_bytes,
             (pg_catalog.array_agg(d.logical_decoding_work_mem
                        ORDER BY d.bucket_start_time DESC))[1] AS work_mem
      FROM @extschema@.pg_stat_monitor_slot_deltas d
      WHERE d.bucket_start_time >= since AND d.bucket_start_time < until
      GROUP BY d.slot_name) a
     CROSS JOIN LATERAL (
         SELECT CASE WHEN a.spill_bytes = 0 THEN 0
                     ELSE coalesce(least(100, pg_catalog.round(100 * a.spill_bytes / nullif(a.total_bytes, 0), 1)), 100)
                END AS spilled_pct,
                CASE WHEN a.stream_bytes = 0 THEN 0
                     ELSE coalesce(least(100, pg_catalog.round(100 * a.stream_bytes / nullif(a.total_bytes, 0), 1)), 100)
                END AS streamed_pct) sh
ORDER BY a.slot_name
$$;

COMMENT ON FUNCTION @extschema@.pg_stat_monitor_decoding_advice(timestamptz, timestamptz, numeric) IS
    'Per slot, the share of decoded bytes that spilled or streamed in a window, with a hint where it is high';

CREATE VIEW @extschema@.pg_stat_monitor_decoding_advice AS
    SELECT * FROM @extschema@.pg_stat_monitor_decoding_advice();

COMMENT ON VIEW @extschema@.pg_stat_monitor_decoding_advice IS
    'pg_stat_monitor_decoding_advice() over the last hour';

-- Who may read and run what
GRANT SELECT ON @extschema@.pg_stat_monitor_info, @extschema@.pgsm_histograms TO PUBLIC;
REVOKE ALL ON @extschema@.pg_stat_monitor_decoding_snapshots,
              @extschema@.pg_stat_monitor_slot_history,
              @extschema@.pg_stat_monitor_subscription_history,
              @extschema@.pg_stat_monitor_slot_deltas,
              @extschema@.pg_stat_monitor_subscription_deltas,
              @extschema@.pg_stat_monitor_decoding_advice
    FROM PUBLIC;
GRANT SELECT ON @extschema@.pg_stat_monitor_decoding_snapshots,
                @extschema@.pg_stat_monitor_slot_history,
                @extschema@.pg_stat_monitor_subscription_history,
                @extschema@.pg_stat_monitor_slot_deltas,
                @extschema@.pg_stat_monitor_subscription_deltas,
                @extschema@.pg_stat_monitor_decoding_advice
    TO pg_read_all_stats;

-- Only superusers, and those they grant it to, may discard statistics,
-- export early, or run what the worker runs
REVOKE ALL ON FUNCTION @extschema@.pg_stat_monitor_reset(),
    @extschema@.pg_stat_monitor_flush(),
    @extschema@.pgsm_batch_rows(int8),
    @extschema@.pgsm_creating_extension(),
    @extschema@.pgsm_ensure_partition(regclass, timestamptz),
    @extschema@.pgsm_maintain_partitions(timestamptz),
    @extschema@.pgsm_snapshot_decoding(timestamptz),
    @extschema@.pg_stat_monitor_decoding_advice(timestamptz, timestamptz, numeric)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.pg_stat_monitor_decoding_advice(timestamptz, timestamptz, numeric)
    TO pg_read_all_stats;

/*
 * Reports: pg_stat_monitor_report() and pg_stat_monitor_diff_report() return
 * one self-contained HTML document (inline CSS and SVG, no script, nothing
 * loaded from anywhere) made from history as the views show it:
 * pg_stat_monitor_history, pg_stat_monitor_slot_deltas,
 * pg_stat_monitor_decoding_advice(), pg_stat_monitor_exports and
 * pg_stat_monitor_info.  They run with the caller's privileges, so they show
 * what those views show the caller, and no more.  Every text that comes from
 * the database goes through pgsm_html().
 */

-- Text made safe for HTML, in element content and in quoted attributes
CREATE FUNCTION @extschema@.pgsm_html(t text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
           pg_catalog.replace(coalesce(t, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
           '"', '&quot;'), '''', '&#39;')
$$;

-- A number as a report shows it: bytes with pg_size_pretty, milliseconds
-- from 1000 on as seconds, others with k, M or G and two decimals at most
CREATE FUNCTION @extschema@.pgsm_report_number(v float8, unit text DEFAULT '')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN x.v IS NULL THEN ''
        WHEN x.unit = 'bytes' THEN pg_catalog.pg_size_pretty(pg_catalog.round(x.v::numeric))
        WHEN pg_catalog.abs(x.v) >= 1e9 THEN pg_catalog.round((x.v / 1e9)::numeric, 2) || 'G'
        WHEN pg_catalog.abs(x.v) >= 1e6 THEN pg_catalog.round((x.v / 1e6)::numeric, 2) || 'M'
        WHEN pg_catalog.abs(x.v) >= 1e4 THEN pg_catalog.round((x.v / 1e3)::numeric, 1) || 'k'
        WHEN x.v = pg_catalog.round(x.v) THEN pg_catalog.round(x.v::numeric)::text
        ELSE pg_catalog.round(x.v::numeric, 2)::text
    END || CASE WHEN x.unit IN ('', 'bytes') OR x.v IS NULL THEN '' ELSE ' ' || x.unit END
    FROM (SELECT CASE WHEN unit = 'ms' AND pg_catalog.abs(v) >= 1000 THEN v / 1000 ELSE v END AS v,
                 CASE WHEN unit = 'ms' AND pg_catalog.abs(v) >= 1000 THEN 's' ELSE unit END AS unit) x
$$;

/*
 * An SVG bar chart over time: one bar per slot (labels[i] is when slot i
 * starts), a second series beside the first when vals2 is given, and a
 * dashed line at refline (labelled reflabel) when it is given.  unit is
 * passed to pgsm_report_number() for the axis and the tooltips.
 */
CREATE FUNCTION @extschema@.pgsm_svg_bars(labels text[], vals float8[], title text,
                                          unit text DEFAULT '',
                                          color text DEFAULT '#3366cc',
                                          vals2 float8[] DEFAULT NULL,
                                          color2 text DEFAULT '#dc7633',
                                          refline float8 DEFAULT NULL,
                                          reflabel text DEFAULT NULL,
                                          width int DEFAULT 900,
                                          height int DEFAULT 150)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int := greatest(coalesce(pg_catalog.array_length(labels, 1), 0), 1);
    lm float8 := 72;
    tm float8 := 22;
    bm float8 := 20;
    pw float8 := width - lm - 8;
    ph float8 := height - tm - bm;
    mx float8;
    slotw float8 := pw / n;
    bw float8;
    svg text;
    y float8;
BEGIN
    SELECT coalesce(pg_catalog.max(x), 0) INTO mx
    FROM pg_catalog.unnest(vals || coalesce(vals2, '{}'::float8[])) x;
    mx := greatest(mx, coalesce(refline, 0));
    IF mx <= 0 THEN
        mx := 1;
    END IF;
    bw := greatest(slotw * CASE WHEN vals2 IS NULL THEN 0.8 ELSE 0.4 END, 0.5);

    svg := pg_catalog.format(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s">'
        '<rect x="0" y="0" width="%s" height="%s" fill="#ffffff"/>'
        '<text x="%s" y="14" class="ct">%s</text>'
        '<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#999"/>'
        '<text x="%s" y="%s" class="ax" text-anchor="end">%s</text>'
        '<text x="%s" y="%s" class="ax" text-anchor="end">0</text>'
        '<text x="%s" y="%s" class="ax">%s</text>'
        '<text x="%s" y="%s" class="ax" text-anchor="end">%s</text>',
        width, height, width, height, @extschema@.pgsm_html(title),
        width, height,
        lm, @extschema@.pgsm_html(title),
        lm, tm + ph, lm + pw, tm + ph,
        lm - 4, tm + 8, @extschema@.pgsm_html(@extschema@.pgsm_report_number(mx, unit)),
        lm - 4, tm + ph,
        lm, height - 4, @extschema@.pgsm_html(labels[1]),
        lm + pw, height - 4, @extschema@.pgsm_html(labels[n]));

    SELECT svg || coalesce(pg_catalog.string_agg(pg_catalog.format(
               '<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>',
               pg_catalog.round((lm + (i - 1) * slotw + slotw * 0.1 + s.k * bw)::numeric, 2),
               pg_catalog.round((tm + ph - s.v / mx * ph)::numeric, 2),
               pg_catalog.round(bw::numeric, 2),
               pg_catalog.round(greatest(s.v / mx * ph, 1)::numeric, 2),
               s.color,
               @extschema@.pgsm_html(labels[i]),
               @extschema@.pgsm_html(@extschema@.pgsm_report_number(s.v, unit))), ''), '')
    INTO svg
    FROM pg_catalog.generate_series(1, n) i,
         LATERAL (VALUES (0, vals[i], color), (1, vals2[i], color2)) s(k, v, color)
    WHERE s.v > 0;

    IF refline IS NOT NULL AND refline > 0 THEN
        y := tm + ph - refline / mx * ph;
        svg := svg || pg_catalog.format(
            '<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#c0392b" stroke-dasharray="5,3"/>'
            '<text x="%s" y="%s" class="ax" text-anchor="end" fill="#c0392b">%s</text>',
            lm, pg_catalog.round(y::numeric, 2), lm + pw, pg_catalog.round(y::numeric, 2),
            lm + pw, pg_catalog.round((y - 3)::numeric, 2),
            @extschema@.pgsm_html(coalesce(reflabel, '') || ' '
                                  || @extschema@.pgsm_report_number(refline, unit)));
    END IF;
    RETURN svg || '</svg>';
END
$$;

-- A sparkline: vals as a small line chart, scaled to its own maximum
CREATE FUNCTION @extschema@.pgsm_svg_sparkline(vals float8[], width int DEFAULT 160,
                                               height int DEFAULT 28)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format(
        '<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s">'
        '<polyline fill="none" stroke="#3366cc" stroke-width="1.5" points="%s"/></svg>',
        width, height, width, height,
        pg_catalog.string_agg(pg_catalog.format('%s,%s',
            pg_catalog.round((2 + CASE WHEN m.n = 1 THEN (width - 4) / 2.0
                                       ELSE (i - 1) * (width - 4)::numeric / (m.n - 1) END), 2),
            pg_catalog.round((height - 2 - coalesce(vals[i], 0) / m.mx * (height - 4))::numeric, 2)),
            ' ' ORDER BY i)
        || CASE WHEN m.n = 1 THEN pg_catalog.format(' %s,%s', width - 2,
               pg_catalog.round((height - 2 - coalesce(vals[1], 0) / m.mx * (height - 4))::numeric, 2))
           ELSE '' END)
    FROM (SELECT greatest(coalesce(pg_catalog.array_length(vals, 1), 0), 1) AS n,
                 coalesce(nullif((SELECT pg_catalog.max(x) FROM pg_catalog.unnest(vals) x), 0), 1) AS mx) m,
         pg_catalog.generate_series(1, m.n) i
    GROUP BY m.n, m.mx
$$;

-- The page around a report's sections: title, style, and no way for
-- anything in it to run a script or load anything
CREATE FUNCTION @extschema@.pgsm_report_page(title text, body text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '<!DOCTYPE html>' || E'\n'
        || '<html lang="en"><head><meta charset="utf-8">'
        || '<meta http-equiv="Content-Security-Policy" content="default-src ''none''; style-src ''unsafe-inline''">'
        || '<title>' || @extschema@.pgsm_html(title) || '</title><style>'
        || 'body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:13px;margin:16px;color:#222;max-width:1200px}'
        || 'h1{font-size:20px}h2{font-size:16px;border-bottom:1px solid #ccc;margin-top:28px}h3{font-size:14px}'
        || 'table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top}'
        || 'th{background:#f0f3f8;text-align:left}td.n{text-align:right;white-space:nowrap}'
        || 'code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:12px;white-space:pre-wrap;word-break:break-all}'
        || 'td code{display:block;max-width:520px;max-height:5.5em;overflow:hidden}'
        || '.ct{font-size:12px;font-weight:bold}.ax{font-size:10px;fill:#555}.note{color:#666}'
        || '.hint{background:#fff8e1;padding:4px 8px;border-left:3px solid #f0ad4e}'
        || '.row{display:flex;gap:16px;flex-wrap:wrap}'
        || '</style></head><body>' || E'\n'
        || body || E'\n</body></html>\n'
$$;

/*
 * What a report reads of history: one element per statement (database,
 * user, query id), plan, level, SQLSTATE and slot of the report's charts,
 * its rows added up.  I/O counts the blocks read and written (shared, local
 * and temporary); the histogram is left NULL when it has not the number of
 * cells asked for.
 */
CREATE TYPE @extschema@.pgsm_report_slot AS (
    dbid oid,
    userid oid,
    queryid int8,
    planid int8,
    elevel int,
    sqlcode text,
    slot int,
    datname text,
    username text,
    first_seen timestamptz,
    last_seen timestamptz,
    calls float8,
    ms float8,
    rows float8,
    io float8,
    wal float8,
    resp_calls int8[],
    query_text_id int8,
    plan_text_id int8,
    message text
);

/*
 * The slots of a report's charts from "since" up to "until": at most
 * "slots" of them, each of whole buckets, from "origin" (seconds since the
 * epoch) on, "step" seconds long.  A step of more than half an hour is
 * made a whole number of hours from a UTC hour (when buckets divide an
 * hour; at least half as many slots then), so that a long range can be
 * read from the hourly rollups (pgsm_report_slots).
 */
CREATE FUNCTION @extschema@.pgsm_report_grid(since timestamptz, until timestamptz, slots int,
                                             OUT origin numeric, OUT step numeric)
RETURNS record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bt numeric := @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_bucket_time');
BEGIN
    origin := pg_catalog.floor(extract(epoch FROM since) / bt) * bt;
    step := bt * greatest(1, pg_catalog.ceil((extract(epoch FROM until) - origin) / bt / slots));
    IF step > 1800 AND pg_catalog.mod(3600, bt) = 0
       AND (pg_catalog.mod(origin, 3600) <> 0 OR pg_catalog.mod(step, 3600) <> 0) THEN
        origin := pg_catalog.floor(extract(epoch FROM since) / 3600) * 3600;
        step := 3600 * pg_catalog.ceil((extract(epoch FROM until) - origin) / 3600 / slots);
    END IF;
END
$$;

/*
 * History from "since" up to "until", of one database and one user when
 * dbname and username are given, added up per slot of "step" seconds from
 * "origin" (pgsm_report_slot): one pass over the range, over the rows of
 * history as they are stored (a bucket exported in parts needs no adding
 * up first: the report only sums).  Compact rows whose span misses the
 * range are not unnested, and of the others only the columns a report
 * reads.  Histograms of "cells" cells are added up (none when NULL).
 *
 * When slots are whole hours from a UTC hour, the whole hours of the range
 * that the hourly rollups cover are read from pg_stat_monitor_rollup_hour
 * instead of the compact form: a row of detail is added to the rollups
 * when it leaves pg_stat_monitor_entries (compacted, or dropped by
 * retention or the cap), in the same statement, so an hour's rollup rows
 * and its rows still in pg_stat_monitor_entries hold every call once, and
 * its compact rows are left out.  The rollups cover an hour when hourly
 * rollups are kept (pgsm_rollup_hourly_retention above 0) and their oldest
 * partition starts at or before it (retention and the cap drop whole
 * partitions, oldest first).  Rows read from the rollups are seen at the
 * start of their hour (first_seen, last_seen).
 */
CREATE FUNCTION @extschema@.pgsm_report_slots(since timestamptz, until timestamptz,
                                              origin numeric, step numeric,
                                              dbname name, username name, cells int)
RETURNS @extschema@.pgsm_report_slot[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rs @extschema@.pgsm_report_slot[];
    wanted text[] := CASE WHEN cells IS NULL THEN '{}'::text[] ELSE '{resp_calls}' END
        OPERATOR(pg_catalog.||) '{bucket_start_time,userid,username,dbid,datname,queryid,query_text_id,planid,
                                  plan_text_id,elevel,sqlcode,message,calls,total_exec_time,rows,shared_blks_read,
                                  shared_blks_written,local_blks_read,local_blks_written,temp_blks_read,
                                  temp_blks_written,wal_bytes}'::text[];
    -- the hours read from the rollups, [rollup_lo, rollup_hi); none when equal
    rollup_lo timestamptz := since;
    rollup_hi timestamptz := since;
    oldest timestamptz;
BEGIN
    IF pg_catalog.mod(origin, 3600) = 0 AND pg_catalog.mod(step, 3600) = 0
       AND @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_rollup_hourly_retention') > 0 THEN
        SELECT pg_catalog.min(p.lower_bound) INTO oldest
        FROM @extschema@.pgsm_partitions('@extschema@.pg_stat_monitor_rollup_hour') p;
        IF oldest IS NOT NULL THEN
            rollup_lo := greatest(oldest, pg_catalog.to_timestamp(
                (pg_catalog.ceil(extract(epoch FROM since) / 3600) * 3600)::float8));
            rollup_hi := pg_catalog.to_timestamp((pg_catalog.floor(extract(epoch FROM until) / 3600) * 3600)::float8);
            IF rollup_lo >= rollup_hi THEN
                rollup_lo := since;
                rollup_hi := since;
            END IF;
        END IF;
    END IF;

    EXECUTE pg_catalog.format($q$
        SELECT pg_catalog.array_agg(ROW(x.*)::@extschema@.pgsm_report_slot)
        FROM (SELECT h.dbid, h.userid, h.queryid, h.planid, h.elevel, h.sqlcode,
                     pg_catalog.floor((extract(epoch FROM h.bucket_start_time) - $4) / $5)::int,
                     pg_catalog.max(h.datname), pg_catalog.max(h.username),
                     pg_catalog.min(h.bucket_start_time), pg_catalog.max(h.bucket_start_time),
                     pg_catalog.sum(h.calls)::float8, pg_catalog.sum(h.total_exec_time),
                     pg_catalog.sum(h.rows)::float8,
                     pg_catalog.sum(h.shared_blks_read + h.shared_blks_written + h.local_blks_read
                                    + h.local_blks_written + h.temp_blks_read + h.temp_blks_written)::float8,
                     pg_catalog.sum(h.wal_bytes)::float8,
                     %s,
                     pg_catalog.min(h.query_text_id), pg_catalog.min(h.plan_text_id),
                     pg_catalog.max(h.message)
              FROM (%s UNION ALL %s) h
              WHERE h.bucket_start_time >= $1 AND h.bucket_start_time < $2
                AND ($6 IS NULL OR h.datname = $6)
                AND ($7 IS NULL OR h.username = $7)
              GROUP BY 1, 2, 3, 4, 5, 6, 7) x
        $q$,
        CASE WHEN cells IS NULL THEN 'NULL::int8[]'
             ELSE '@extschema@.pgsm_sum(h.resp_calls) FILTER (WHERE pg_catalog.cardinality(h.resp_calls) = $8)' END,
        -- the compact rows of the hours the rollups do not hold, and the entries
        @extschema@.pgsm_history_rows_sql(
            'c.compact_day >= $3 AND c.compact_day < $2 AND c.compact_last >= $1 AND c.compact_first < $2'
            ' AND NOT (c.compact_first >= $9 AND c.compact_last < $10)'
            ' AND (@extschema@.pgsm_element(c.bucket_start_time, u.i) < $9'
            ' OR @extschema@.pgsm_element(c.bucket_start_time, u.i) >= $10)',
            wanted),
        -- the rollups, in the columns and order of pgsm_history_rows_sql
        (SELECT pg_catalog.format('SELECT %s FROM @extschema@.pg_stat_monitor_rollup_hour r'
                                  ' WHERE r.rollup_start >= $9 AND r.rollup_start < $10',
                                  pg_catalog.string_agg(CASE WHEN x.name OPERATOR(pg_catalog.=) 'bucket_start_time'
                                                             THEN 'r.rollup_start'
                                                             ELSE pg_catalog.format('r.%I', x.name) END, ', '))
         FROM @extschema@.pgsm_compact_columns() x
         WHERE x.name OPERATOR(pg_catalog.=) ANY (wanted)))
    INTO rs
    USING since, until, @extschema@.pgsm_compact_day(since), origin, step,
          dbname::text, username::text, cells, rollup_lo, rollup_hi;
    RETURN coalesce(rs, '{}');
END
$$;

/*
 * The HTML report of what history holds from "since" up to "until", over
 * the statements of one database and one user when dbname and username are
 * given: load over time, the top statements by time, calls, I/O and WAL,
 * latency as a heat map, plan changes, errors by SQLSTATE, logical decoding
 * per slot, and the health of the store.  Charts have one bar per bucket, or
 * per group of whole buckets when the range holds more than 240.
 */
CREATE FUNCTION @extschema@.pg_stat_monitor_report(
    since timestamptz DEFAULT pg_catalog.now() - interval '1 hour',
    until timestamptz DEFAULT pg_catalog.now(),
    dbname name DEFAULT NULL,
    username name DEFAULT NULL,
    top int DEFAULT 10)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bt numeric := @extschema@.pgsm_setting_seconds('pg_stat_monitor.pgsm_bucket_time');
    origin numeric;
    step numeric;
    nslots int;
    labels text[];
    db name := pg_stat_monitor_report.dbname;
    usr name := pg_stat_monitor_report.username;
    html text;
    part text;
    n_statements int8;
    load_calls float8[];
    load_ms float8[];
    load_errors float8[];
    rs @extschema@.pgsm_report_slot[];
    r record;
    t0 timestamptz := pg_catalog.clock_timestamp();
BEGIN
    IF since IS NULL OR until IS NULL OR until <= since THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'a report needs a range whose end is after its start',
            DETAIL = pg_catalog.format('The range given is from %s to %s.', since, until);
    END IF;
    IF NOT pg_catalog.has_table_privilege('@extschema@.pg_stat_monitor_history', 'SELECT') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = 'permission denied for the history of pg_stat_monitor',
            HINT = 'A report shows every user''s statements: it needs the privileges of pg_read_all_stats.';
    END IF;

    -- slots: whole buckets, at most 240 of them
    SELECT g.origin, g.step INTO origin, step FROM @extschema@.pgsm_report_grid(since, until, 240) g;
    nslots := pg_catalog.ceil((extract(epoch FROM until) - origin) / step)::int;
    SELECT pg_catalog.array_agg(pg_catalog.to_char(pg_catalog.to_timestamp((origin + i * step)::float8),
                                                   'YYYY-MM-DD HH24:MI:SS') ORDER BY i)
    INTO labels FROM pg_catalog.generate_series(0, nslots - 1) i;

    -- the range, read once; every section below works from it
    rs := @extschema@.pgsm_report_slots(since, until, origin, step, db, usr,
                                        pg_catalog.cardinality(@extschema@.range()));

    html := pg_catalog.format(
        '<h1>pg_stat_monitor report</h1><table>'
        '<tr><th>range</th><td>%s &ndash; %s</td></tr>'
        '<tr><th>database</th><td>%s</td></tr><tr><th>user</th><td>%s</td></tr>'
        '<tr><th>server</th><td>%s</td></tr>'
        '<tr><th>buckets</th><td>%s s each; charts show %s per bar</td></tr>'
        '<tr><th>made</th><td>%s by %s</td></tr></table>',
        @extschema@.pgsm_html(since::text), @extschema@.pgsm_html(until::text),
        @extschema@.pgsm_html(coalesce(db, 'all')), @extschema@.pgsm_html(coalesce(usr, 'all')),
        @extschema@.pgsm_html(pg_catalog.version()),
        bt, CASE WHEN step = bt THEN 'one bucket' ELSE step || ' s' END,
        @extschema@.pgsm_html(pg_catalog.now()::text), @extschema@.pgsm_html(CURRENT_USER::text));

    -- top statements, by each measure, with their sparklines; and, for the
    -- load section, calls and time per slot and how many statements there
    -- were (one pass over the range serves both)
    WITH s AS (
        SELECT h.dbid, h.userid, h.queryid, h.slot,
               pg_catalog.max(h.datname) AS datname, pg_catalog.max(h.username) AS uname,
               pg_catalog.min(h.query_text_id) AS text_id,
               pg_catalog.sum(h.calls) AS calls, pg_catalog.sum(h.ms) AS ms,
               pg_catalog.sum(h.rows) AS rows, pg_catalog.sum(h.io) AS io,
               pg_catalog.sum(h.wal) AS wal
        FROM pg_catalog.unnest(rs) h
        WHERE h.elevel = 0
        GROUP BY 1, 2, 3, 4),
    t AS (
        SELECT s.dbid, s.userid, s.queryid, pg_catalog.max(s.datname) AS datname,
               pg_catalog.max(s.uname) AS uname, pg_catalog.min(s.text_id) AS text_id,
               pg_catalog.sum(s.calls) AS calls, pg_catalog.sum(s.ms) AS ms,
               pg_catalog.sum(s.rows) AS rows, pg_catalog.sum(s.io) AS io, pg_catalog.sum(s.wal) AS wal
        FROM s GROUP BY 1, 2, 3),
    m AS (
        SELECT v.ord, v.measure, v.unit, v.rk, t.*
        FROM (SELECT t.*,
                     pg_catalog.row_number() OVER (ORDER BY t.ms DESC, t.queryid) AS rk_ms,
                     pg_catalog.row_number() OVER (ORDER BY t.calls DESC, t.queryid) AS rk_calls,
                     pg_catalog.row_number() OVER (ORDER BY t.io DESC, t.queryid) AS rk_io,
                     pg_catalog.row_number() OVER (ORDER BY t.wal DESC, t.queryid) AS rk_wal
              FROM t) t,
             LATERAL (VALUES (1, 'total time', 'ms', t.rk_ms, t.ms),
                             (2, 'calls', '', t.rk_calls, t.calls),
                             (3, 'I/O (blocks read and written)', '', t.rk_io, t.io),
                             (4, 'WAL', 'bytes', t.rk_wal, t.wal)) v(ord, measure, unit, rk, val)
        WHERE v.rk <= top AND v.val > 0),
    sp AS (
        SELECT m.ord, m.rk,
               @extschema@.pgsm_svg_sparkline(pg_catalog.array_agg(coalesce(
                   CASE m.ord WHEN 1 THEN s.ms WHEN 2 THEN s.calls WHEN 3 THEN s.io ELSE s.wal END, 0)
                   ORDER BY g)) AS spark
        FROM m CROSS JOIN pg_catalog.generate_series(0, nslots - 1) g
             LEFT JOIN s ON s.dbid = m.dbid AND s.userid = m.userid AND s.queryid = m.queryid
                        AND s.slot = g
        GROUP BY m.ord, m.rk),
    rows AS (
        SELECT m.ord, m.measure, m.rk, pg_catalog.format(
                   '<tr><td class="n">%s</td><td>%s</td><td class="n">%s</td><td class="n">%s</td>'
                   '<td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>'
                   '<td class="n">%s</td><td>%s<br><span class="note">%s / %s</span></td><td><code>%s</code></td></tr>',
                   m.rk, sp.spark,
                   @extschema@.pgsm_report_number(m.calls),
                   @extschema@.pgsm_report_number(m.ms, 'ms'),
                   @extschema@.pgsm_report_number(m.ms / nullif(m.calls, 0), 'ms'),
                   @extschema@.pgsm_report_number(m.rows),
                   @extschema@.pgsm_report_number(m.io),
                   @extschema@.pgsm_report_number(m.wal, 'bytes'),
                   m.queryid,
                   @extschema@.pgsm_html(m.datname), @extschema@.pgsm_html(m.uname),
                   @extschema@.pgsm_html(pg_catalog.left(
                       (SELECT x.text FROM @extschema@.pg_stat_monitor_texts x
                        WHERE x.text_id = m.text_id), 2000))) AS tr
        FROM m JOIN sp ON sp.ord = m.ord AND sp.rk = m.rk)
    SELECT '<h2 id="top">Top statements</h2>' || coalesce(pg_catalog.string_agg(x.tbl, '' ORDER BY x.ord), '<p>No statements in this range.</p>'),
           (SELECT pg_catalog.count(*) FROM t),
           (SELECT pg_catalog.array_agg(coalesce(l.calls, 0) ORDER BY g)
            FROM pg_catalog.generate_series(0, nslots - 1) g
                 LEFT JOIN (SELECT s.slot, pg_catalog.sum(s.calls) AS calls FROM s GROUP BY 1) l
                        ON l.slot = g),
           (SELECT pg_catalog.array_agg(coalesce(l.ms, 0) ORDER BY g)
            FROM pg_catalog.generate_series(0, nslots - 1) g
                 LEFT JOIN (SELECT s.slot, pg_catalog.sum(s.ms) AS ms FROM s GROUP BY 1) l
                        ON l.slot = g)
    INTO part, n_statements, load_calls, load_ms
    FROM (SELECT rows.ord, pg_catalog.format(
                     '<h3>By %s</h3><table><tr><th>#</th><th>per bucket</th><th>calls</th><th>total time</th>'
                     '<th>mean time</th><th>rows</th><th>I/O blocks</th><th>WAL</th><th>query id, database / user</th>'
                     '<th>query</th></tr>%s</table>',
                     rows.measure, pg_catalog.string_agg(rows.tr, '' ORDER BY rows.rk)) AS tbl
          FROM rows GROUP BY rows.ord, rows.measure) x;

    -- load over time: errors are rows of their own, with no time
    SELECT pg_catalog.array_agg(coalesce(l.errors, 0) ORDER BY g)
    INTO load_errors
    FROM pg_catalog.generate_series(0, nslots - 1) g
         LEFT JOIN (
             SELECT h.slot, pg_catalog.sum(h.calls) AS errors
             FROM pg_catalog.unnest(rs) h
             WHERE h.elevel >= 21
             GROUP BY 1) l ON l.slot = g;
    html := html || '<h2 id="load">Load over time</h2>'
        || @extschema@.pgsm_svg_bars(labels, load_calls, 'calls per bucket')
        || @extschema@.pgsm_svg_bars(labels, load_ms, 'execution time per bucket', 'ms', '#2e8b57')
        || @extschema@.pgsm_svg_bars(labels, load_errors, 'errors per bucket', '', '#c0392b')
        || pg_catalog.format('<p>%s calls, %s of execution, %s errors, %s statements.</p>',
                             @extschema@.pgsm_report_number(
                                 (SELECT coalesce(pg_catalog.sum(x), 0) FROM pg_catalog.unnest(load_calls) x)),
                             @extschema@.pgsm_report_number(
                                 (SELECT coalesce(pg_catalog.sum(x), 0) FROM pg_catalog.unnest(load_ms) x), 'ms'),
                             @extschema@.pgsm_report_number(
                                 (SELECT coalesce(pg_catalog.sum(x), 0) FROM pg_catalog.unnest(load_errors) x)),
                             @extschema@.pgsm_report_number(n_statements))
        || part;

    -- latency: calls per histogram cell and slot, darker for more
    -- (histograms of as many cells as the settings give now: those
    -- recorded under other pgsm_histogram_* settings do not fit the rows)
    WITH rg AS (SELECT k.range, k.pos::int AS pos
                FROM pg_catalog.unnest(@extschema@.range()) WITH ORDINALITY k(range, pos)),
    c AS (
        SELECT a.slot, x.pos::int AS pos, x.n::float8 AS n
        FROM (SELECT h.slot, @extschema@.pgsm_sum(h.resp_calls) AS hist
              FROM pg_catalog.unnest(rs) h
              WHERE h.elevel = 0
              GROUP BY 1) a,
             pg_catalog.unnest(a.hist) WITH ORDINALITY x(n, pos)),
    dims AS (SELECT (SELECT pg_catalog.count(*) FROM rg)::int AS cells,
                    (SELECT coalesce(pg_catalog.max(c.n), 0) FROM c) AS mx)
    SELECT '<h2 id="latency">Latency</h2><p class="note">Calls in each cell of the response-time histogram '
        || '(pg_stat_monitor.pgsm_histogram_*), per bucket; darker is more.</p>'
        || pg_catalog.format(
            '<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="900" height="%s" viewBox="0 0 900 %s" role="img" aria-label="latency heat map">'
            '<rect x="0" y="0" width="900" height="%s" fill="#ffffff"/>'
            '<text x="150" y="14" class="ct">calls per response time (ms) and bucket</text>'
            '<text x="150" y="%s" class="ax">%s</text><text x="892" y="%s" class="ax" text-anchor="end">%s</text>',
            dims.cells * 14 + 42, dims.cells * 14 + 42, dims.cells * 14 + 42,
            dims.cells * 14 + 38, @extschema@.pgsm_html(labels[1]),
            dims.cells * 14 + 38, @extschema@.pgsm_html(labels[nslots]))
        || (SELECT coalesce(pg_catalog.string_agg(pg_catalog.format(
                '<text x="146" y="%s" class="ax" text-anchor="end">%s</text>',
                22 + (dims.cells - rg.pos) * 14 + 11, @extschema@.pgsm_html(rg.range)), ''), '') FROM rg)
        || (SELECT coalesce(pg_catalog.string_agg(pg_catalog.format(
                '<rect x="%s" y="%s" width="%s" height="13" fill="#1f4e9c" fill-opacity="%s"><title>%s, %s ms: %s calls</title></rect>',
                pg_catalog.round((150 + c.slot * 742.0 / nslots)::numeric, 1),
                22 + (dims.cells - c.pos) * 14,
                pg_catalog.round(greatest(742.0 / nslots - 0.5, 0.5)::numeric, 2),
                pg_catalog.round((0.15 + 0.85 * pg_catalog.ln(1 + c.n) / pg_catalog.ln(1 + dims.mx))::numeric, 2),
                @extschema@.pgsm_html(labels[c.slot + 1]), @extschema@.pgsm_html(rg.range),
                @extschema@.pgsm_report_number(c.n)), ''), '')
            FROM c JOIN rg ON rg.pos = c.pos WHERE c.n > 0)
        || '</svg>'
    INTO part
    FROM dims;
    html := html || part;

    -- plan changes: statements that ran with more than one plan
    WITH p AS (
        SELECT h.dbid, h.userid, h.queryid, h.planid,
               pg_catalog.max(h.datname) AS datname, pg_catalog.max(h.username) AS uname,
               pg_catalog.min(h.first_seen) AS first_seen,
               pg_catalog.max(h.last_seen) AS last_seen,
               pg_catalog.sum(h.calls) AS calls, pg_catalog.sum(h.ms) AS ms,
               pg_catalog.min(h.query_text_id) AS text_id,
               pg_catalog.min(h.plan_text_id) AS plan_text_id
        FROM pg_catalog.unnest(rs) h
        WHERE h.planid IS NOT NULL AND h.planid <> 0 AND h.elevel = 0
        GROUP BY 1, 2, 3, 4),
    q AS (
        SELECT p.dbid, p.userid, p.queryid, pg_catalog.sum(p.ms) AS ms,
               pg_catalog.min(p.text_id) AS text_id, pg_catalog.count(*) AS plans
        FROM p GROUP BY 1, 2, 3 HAVING pg_catalog.count(*) > 1
        ORDER BY 4 DESC LIMIT top)
    SELECT '<h2 id="plans">Plan changes</h2>'
        || coalesce(pg_catalog.string_agg(pg_catalog.format(
               '<h3>query id %s (%s / %s): %s plans</h3><pre>%s</pre><table><tr><th>plan id</th><th>first seen</th>'
               '<th>last seen</th><th>calls</th><th>mean time</th><th>plan</th></tr>%s</table>',
               q.queryid, @extschema@.pgsm_html(pl.datname), @extschema@.pgsm_html(pl.uname), q.plans,
               @extschema@.pgsm_html(pg_catalog.left(
                   (SELECT x.text FROM @extschema@.pg_stat_monitor_texts x
                    WHERE x.text_id = q.text_id), 2000)),
               pl.trs), '' ORDER BY q.ms DESC),
            '<p>No statement ran with more than one plan in this range'
            || CASE WHEN pg_catalog.current_setting('pg_stat_monitor.pgsm_enable_query_plan') = 'off'
                    THEN ' (pg_stat_monitor.pgsm_enable_query_plan is off)' ELSE '' END || '.</p>')
    INTO part
    FROM q,
         LATERAL (SELECT pg_catalog.max(p.datname) AS datname, pg_catalog.max(p.uname) AS uname,
                         pg_catalog.string_agg(pg_catalog.format(
                             '<tr><td>%s</td><td>%s</td><td>%s</td><td class="n">%s</td><td class="n">%s</td><td><pre>%s</pre></td></tr>',
                             p.planid, @extschema@.pgsm_html(p.first_seen::text),
                             @extschema@.pgsm_html(p.last_seen::text),
                             @extschema@.pgsm_report_number(p.calls),
                             @extschema@.pgsm_report_number(p.ms / nullif(p.calls, 0), 'ms'),
                             @extschema@.pgsm_html(pg_catalog.left(
                                 (SELECT x.text FROM @extschema@.pg_stat_monitor_texts x
                                  WHERE x.text_id = p.plan_text_id), 4000))),
                             '' ORDER BY p.first_seen) AS trs
                  FROM (SELECT p.* FROM p
                        WHERE p.dbid = q.dbid AND p.userid = q.userid AND p.queryid = q.queryid
                        ORDER BY p.calls DESC, p.planid LIMIT 5) p) pl;
    html := html || part;

    -- errors and warnings by SQLSTATE
    SELECT '<h2 id="errors">Errors by SQLSTATE</h2>'
        || coalesce('<table><tr><th>SQLSTATE</th><th>level</th><th>count</th><th>statements</th>'
                    '<th>last seen</th><th>a message</th></tr>'
                    || pg_catalog.string_agg(pg_catalog.format(
                           '<tr><td><code>%s</code></td><td>%s</td><td class="n">%s</td><td class="n">%s</td><td>%s</td><td><code>%s</code></td></tr>',
                           @extschema@.pgsm_html(e.sqlcode),
                           @extschema@.pgsm_html(@extschema@.decode_error_level(e.elevel)),
                           @extschema@.pgsm_report_number(e.n), e.statements,
                           @extschema@.pgsm_html(e.last_seen::text),
                           @extschema@.pgsm_html(pg_catalog.left(e.message, 500))),
                           '' ORDER BY e.n DESC, e.sqlcode)
                    || '</table>', '<p>No errors or warnings in this range.</p>')
    INTO part
    FROM (SELECT h.sqlcode, h.elevel, pg_catalog.sum(h.calls) AS n,
                 pg_catalog.count(DISTINCT h.queryid) AS statements,
                 pg_catalog.max(h.last_seen) AS last_seen, pg_catalog.max(h.message) AS message
          FROM pg_catalog.unnest(rs) h
          WHERE h.elevel <> 0
          GROUP BY 1, 2) e;
    html := html || part;

    -- logical decoding, per slot (slots belong to the server: the
    -- database and user filters do not apply)
    part := '<h2 id="decoding">Logical decoding</h2>';
    FOR r IN
        WITH d AS (
            SELECT x.slot_name,
                   pg_catalog.floor((extract(epoch FROM x.bucket_start_time) - origin) / step)::int AS slot,
                   pg_catalog.sum(x.spill_bytes)::float8 AS spill_bytes,
                   pg_catalog.sum(x.stream_bytes)::float8 AS stream_bytes,
                   pg_catalog.sum(x.spill_txns)::float8 AS spill_txns,
                   pg_catalog.sum(x.stream_txns)::float8 AS stream_txns,
                   pg_catalog.max(x.logical_decoding_work_mem)::float8 AS work_mem
            FROM @extschema@.pg_stat_monitor_slot_deltas x
            WHERE x.bucket_start_time >= since AND x.bucket_start_time < until
            GROUP BY 1, 2)
        SELECT sl.slot_name,
               pg_catalog.array_agg(coalesce(d.spill_bytes, 0) ORDER BY g) AS spill_bytes,
               pg_catalog.array_agg(coalesce(d.stream_bytes, 0) ORDER BY g) AS stream_bytes,
               pg_catalog.array_agg(coalesce(d.spill_txns, 0) ORDER BY g) AS spill_txns,
               pg_catalog.array_agg(coalesce(d.stream_txns, 0) ORDER BY g) AS stream_txns,
               pg_catalog.max(d.work_mem) AS work_mem
        FROM (SELECT DISTINCT d.slot_name FROM d) sl
             CROSS JOIN pg_catalog.generate_series(0, nslots - 1) g
             LEFT JOIN d ON d.slot_name = sl.slot_name AND d.slot = g
        GROUP BY sl.slot_name
        ORDER BY sl.slot_name
    LOOP
        part := part || pg_catalog.format('<h3>slot %s</h3>', @extschema@.pgsm_html(r.slot_name))
            || @extschema@.pgsm_svg_bars(labels, r.spill_bytes,
                                         'bytes spilled (orange) and streamed (blue) per bucket',
                                         'bytes', '#dc7633', r.stream_bytes, '#3366cc',
                                         r.work_mem, 'logical_decoding_work_mem')
            || @extschema@.pgsm_svg_bars(labels, r.spill_txns,
                                         'transactions spilled (orange) and streamed (blue) per bucket',
                                         '', '#dc7633', r.stream_txns, '#3366cc');
    END LOOP;
    SELECT part || coalesce('<table><tr><th>slot</th><th>decoded</th><th>transactions</th><th>spilled</th>'
                            '<th>streamed</th><th>logical_decoding_work_mem</th><th>advice</th></tr>'
                            || pg_catalog.string_agg(pg_catalog.format(
                                   '<tr><td>%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s (%s%%)</td>'
                                   '<td class="n">%s (%s%%)</td><td class="n">%s</td><td>%s</td></tr>',
                                   @extschema@.pgsm_html(a.slot_name),
                                   @extschema@.pgsm_report_number(a.total_bytes, 'bytes'),
                                   @extschema@.pgsm_report_number(a.total_txns),
                                   @extschema@.pgsm_report_number(a.spill_bytes, 'bytes'), a.spilled_pct,
                                   @extschema@.pgsm_report_number(a.stream_bytes, 'bytes'), a.streamed_pct,
                                   @extschema@.pgsm_html(a.logical_decoding_work_mem),
                                   CASE WHEN a.hint IS NULL THEN ''
                                        ELSE '<div class="hint">' || @extschema@.pgsm_html(a.hint) || '</div>' END),
                                   '' ORDER BY a.slot_name)
                            || '</table>', '<p>No logical replication slot decoded in this range.</p>')
    INTO part
    FROM @extschema@.pg_stat_monitor_decoding_advice(since, until) a;
    html := html || part;

    -- the store's health: now, and the exports of the range
    SELECT '<h2 id="health">The store</h2><div class="row"><table><tr><th colspan="2">pg_stat_monitor_info, now</th></tr>'
        || pg_catalog.string_agg(pg_catalog.format('<tr><th>%s</th><td>%s</td></tr>',
                                                   @extschema@.pgsm_html(j.key), @extschema@.pgsm_html(j.value)), '')
        || '</table></div>'
    INTO part
    FROM @extschema@.pg_stat_monitor_info i,
         pg_catalog.json_each_text(pg_catalog.row_to_json(i)) j;
    html := html || part;

    SELECT @extschema@.pgsm_svg_bars(labels, pg_catalog.array_agg(coalesce(e.rws, 0) ORDER BY g),
                                     'rows exported per bucket', '', '#7d3c98',
                                     pg_catalog.array_agg(coalesce(e.n, 0) ORDER BY g), '#16a085')
        || pg_catalog.format('<p>%s exports (green) of %s rows (purple) in this range.</p>',
                             @extschema@.pgsm_report_number(coalesce(pg_catalog.sum(e.n), 0)),
                             @extschema@.pgsm_report_number(coalesce(pg_catalog.sum(e.rws), 0)))
    INTO part
    FROM pg_catalog.generate_series(0, nslots - 1) g
         LEFT JOIN (
             SELECT pg_catalog.floor((extract(epoch FROM x.exported_at) - origin) / step)::int AS slot,
                    pg_catalog.count(*)::float8 AS n, pg_catalog.sum(x.rows)::float8 AS rws
             FROM @extschema@.pg_stat_monitor_exports x
             WHERE x.exported_at >= since AND x.exported_at < until
             GROUP BY 1) e ON e.slot = g;
    html := html || part;

    html := html || pg_catalog.format('<p class="note">Made in %s ms.</p>',
        pg_catalog.round((extract(epoch FROM pg_catalog.clock_timestamp() - t0) * 1000)::numeric));
    RETURN @extschema@.pgsm_report_page('pg_stat_monitor report', html);
END
$$;

/*
 * Two periods side by side: totals, load, the statements that got slower,
 * the new ones and those that were gone, errors by SQLSTATE, and how
 * spilling and streaming of logical decoding changed.  A statement is the
 * same in both periods when its database, user and query id are.
 */
CREATE FUNCTION @extschema@.pg_stat_monitor_diff_report(
    from1 timestamptz, to1 timestamptz,
    from2 timestamptz, to2 timestamptz,
    dbname name DEFAULT NULL,
    username name DEFAULT NULL,
    top int DEFAULT 10)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    db name := pg_stat_monitor_diff_report.dbname;
    usr name := pg_stat_monitor_diff_report.username;
    html text;
    part text;
    p record;
    origin numeric;
    step numeric;
    nslots int;
    labels text[];
    rs @extschema@.pgsm_report_slot[];
    rs1 @extschema@.pgsm_report_slot[];
    rs2 @extschema@.pgsm_report_slot[];
    t0 timestamptz := pg_catalog.clock_timestamp();
BEGIN
    IF from1 IS NULL OR to1 IS NULL OR from2 IS NULL OR to2 IS NULL
       OR to1 <= from1 OR to2 <= from2 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'a diff report needs two ranges whose ends are after their starts',
            DETAIL = pg_catalog.format('The ranges given are from %s to %s and from %s to %s.',
                                       from1, to1, from2, to2);
    END IF;
    IF NOT pg_catalog.has_table_privilege('@extschema@.pg_stat_monitor_history', 'SELECT') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = 'permission denied for the history of pg_stat_monitor',
            HINT = 'A report shows every user''s statements: it needs the privileges of pg_read_all_stats.';
    END IF;

    html := pg_catalog.format(
        '<h1>pg_stat_monitor diff report</h1><table>'
        '<tr><th>period 1</th><td>%s &ndash; %s</td></tr>'
        '<tr><th>period 2</th><td>%s &ndash; %s</td></tr>'
        '<tr><th>database</th><td>%s</td></tr><tr><th>user</th><td>%s</td></tr>'
        '<tr><th>server</th><td>%s</td></tr>'
        '<tr><th>made</th><td>%s by %s</td></tr></table>',
        @extschema@.pgsm_html(from1::text), @extschema@.pgsm_html(to1::text),
        @extschema@.pgsm_html(from2::text), @extschema@.pgsm_html(to2::text),
        @extschema@.pgsm_html(coalesce(db, 'all')), @extschema@.pgsm_html(coalesce(usr, 'all')),
        @extschema@.pgsm_html(pg_catalog.version()),
        @extschema@.pgsm_html(pg_catalog.now()::text), @extschema@.pgsm_html(CURRENT_USER::text));

    -- load of each period, side by side
    part := '<h2 id="load">Load</h2><div class="row">';
    FOR p IN SELECT * FROM (VALUES (1, from1, to1), (2, from2, to2)) v(n, since, until) LOOP
        SELECT g.origin, g.step INTO origin, step FROM @extschema@.pgsm_report_grid(p.since, p.until, 120) g;
        nslots := pg_catalog.ceil((extract(epoch FROM p.until) - origin) / step)::int;
        SELECT pg_catalog.array_agg(pg_catalog.to_char(pg_catalog.to_timestamp((origin + i * step)::float8),
                                                       'YYYY-MM-DD HH24:MI:SS') ORDER BY i)
        INTO labels FROM pg_catalog.generate_series(0, nslots - 1) i;
        -- each period read once; every section below works from them
        rs := @extschema@.pgsm_report_slots(p.since, p.until, origin, step, db, usr, NULL);
        IF p.n = 1 THEN
            rs1 := rs;
        ELSE
            rs2 := rs;
        END IF;
        SELECT part || '<div>'
            || @extschema@.pgsm_svg_bars(labels, pg_catalog.array_agg(coalesce(l.calls, 0) ORDER BY g),
                                         pg_catalog.format('period %s: calls per bucket', p.n),
                                         width => 440)
            || @extschema@.pgsm_svg_bars(labels, pg_catalog.array_agg(coalesce(l.ms, 0) ORDER BY g),
                                         pg_catalog.format('period %s: execution time per bucket', p.n),
                                         'ms', '#2e8b57', width => 440)
            || '</div>'
        INTO part
        FROM pg_catalog.generate_series(0, nslots - 1) g
             LEFT JOIN (
                 SELECT h.slot, pg_catalog.sum(h.calls) FILTER (WHERE h.elevel = 0) AS calls,
                        pg_catalog.sum(h.ms) AS ms
                 FROM pg_catalog.unnest(rs) h
                 GROUP BY 1) l ON l.slot = g;
    END LOOP;
    html := html || part || '</div>';

    -- totals, and statements slower, new and gone
    WITH h AS (
        SELECT 1 AS n, x.* FROM pg_catalog.unnest(rs1) x
        UNION ALL
        SELECT 2, x.* FROM pg_catalog.unnest(rs2) x),
    st AS MATERIALIZED (
        SELECT h.n, h.dbid, h.userid, h.queryid,
               pg_catalog.max(h.datname) AS datname, pg_catalog.max(h.username) AS uname,
               pg_catalog.min(h.query_text_id) AS text_id,
               pg_catalog.sum(h.calls) AS calls, pg_catalog.sum(h.ms) AS ms,
               pg_catalog.sum(h.rows) AS rows, pg_catalog.sum(h.io) AS io,
               pg_catalog.sum(h.wal) AS wal
        FROM h
        WHERE h.elevel = 0
        GROUP BY 1, 2, 3, 4),
    tot AS (
        SELECT st.n, pg_catalog.count(*)::float8 AS statements, pg_catalog.sum(st.calls) AS calls,
               pg_catalog.sum(st.ms) AS ms, pg_catalog.sum(st.ms) / nullif(pg_catalog.sum(st.calls), 0) AS mean,
               pg_catalog.sum(st.rows) AS rows, pg_catalog.sum(st.io) AS io, pg_catalog.sum(st.wal) AS wal
        FROM st GROUP BY st.n),
    errs AS (
        SELECT h.n, pg_catalog.sum(h.calls) AS errors
        FROM h
        WHERE h.elevel >= 21
        GROUP BY 1),
    dec AS (
        SELECT v.n, pg_catalog.sum(x.spill_bytes)::float8 AS spill, pg_catalog.sum(x.stream_bytes)::float8 AS stream
        FROM (VALUES (1, from1, to1), (2, from2, to2)) v(n, since, until)
             JOIN @extschema@.pg_stat_monitor_slot_deltas x
               ON x.bucket_start_time >= v.since AND x.bucket_start_time < v.until
        GROUP BY 1),
    measures AS (
        SELECT m.ord, m.label, m.unit,
               pg_catalog.max(m.val) FILTER (WHERE m.n = 1) AS v1,
               pg_catalog.max(m.val) FILTER (WHERE m.n = 2) AS v2
        FROM (SELECT k.n, x.* FROM (VALUES (1), (2)) k(n)
                  LEFT JOIN tot ON tot.n = k.n LEFT JOIN errs ON errs.n = k.n LEFT JOIN dec ON dec.n = k.n,
                  LATERAL (VALUES (1, 'calls', '', coalesce(tot.calls, 0)),
                                  (2, 'execution time', 'ms', coalesce(tot.ms, 0)),
                                  (3, 'mean time per call', 'ms', tot.mean),
                                  (4, 'errors', '', coalesce(errs.errors, 0)),
                                  (5, 'statements', '', coalesce(tot.statements, 0)),
                                  (6, 'rows', '', coalesce(tot.rows, 0)),
                                  (7, 'I/O blocks', '', coalesce(tot.io, 0)),
                                  (8, 'WAL', 'bytes', coalesce(tot.wal, 0)),
                                  (9, 'bytes spilled by logical decoding', 'bytes', coalesce(dec.spill, 0)),
                                  (10, 'bytes streamed by logical decoding', 'bytes', coalesce(dec.stream, 0)))
                      x(ord, label, unit, val)) m
        GROUP BY m.ord, m.label, m.unit),
    both_ AS (
        SELECT coalesce(a.dbid, b.dbid) AS dbid, coalesce(a.userid, b.userid) AS userid,
               coalesce(a.queryid, b.queryid) AS queryid,
               coalesce(b.datname, a.datname) AS datname, coalesce(b.uname, a.uname) AS uname,
               coalesce(b.text_id, a.text_id) AS text_id,
               a.calls AS calls1, b.calls AS calls2, a.ms AS ms1, b.ms AS ms2,
               a.ms / nullif(a.calls, 0) AS mean1, b.ms / nullif(b.calls, 0) AS mean2
        FROM (SELECT * FROM st WHERE st.n = 1) a
             FULL JOIN (SELECT * FROM st WHERE st.n = 2) b
               ON b.dbid = a.dbid AND b.userid = a.userid AND b.queryid = a.queryid),
    lists AS (
        SELECT 1 AS ord, x.*,
               pg_catalog.row_number() OVER (ORDER BY (x.mean2 - x.mean1) * x.calls2 DESC, x.queryid) AS rk
        FROM both_ x WHERE x.calls1 > 0 AND x.calls2 > 0 AND x.mean2 > x.mean1
        UNION ALL
        SELECT 2, x.*, pg_catalog.row_number() OVER (ORDER BY x.ms2 DESC, x.queryid)
        FROM both_ x WHERE x.calls1 IS NULL
        UNION ALL
        SELECT 3, x.*, pg_catalog.row_number() OVER (ORDER BY x.ms1 DESC, x.queryid)
        FROM both_ x WHERE x.calls2 IS NULL),
    tables AS (
        SELECT k.ord, pg_catalog.format(
                   '<h2 id="%s">%s</h2><p class="note">Statements %s.</p>%s',
                   pg_catalog.lower(k.title), k.title, k.note,
                   coalesce('<table><tr><th>#</th>'
                   '<th>calls 1</th><th>calls 2</th><th>time 1</th><th>time 2</th><th>mean 1</th>'
                   '<th>mean 2</th><th>change of mean</th><th>query id, database / user</th><th>query</th></tr>'
                   || pg_catalog.string_agg(pg_catalog.format(
                       '<tr><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>'
                       '<td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>'
                       '<td>%s<br><span class="note">%s / %s</span></td><td><code>%s</code></td></tr>',
                       l.rk, @extschema@.pgsm_report_number(l.calls1), @extschema@.pgsm_report_number(l.calls2),
                       @extschema@.pgsm_report_number(l.ms1, 'ms'), @extschema@.pgsm_report_number(l.ms2, 'ms'),
                       @extschema@.pgsm_report_number(l.mean1, 'ms'), @extschema@.pgsm_report_number(l.mean2, 'ms'),
                       CASE WHEN l.mean1 > 0 AND l.mean2 IS NOT NULL
                            THEN pg_catalog.to_char(100 * (l.mean2 - l.mean1) / l.mean1, 'FMSG99999990.0') || '%'
                            ELSE '' END,
                       l.queryid, @extschema@.pgsm_html(l.datname), @extschema@.pgsm_html(l.uname),
                       @extschema@.pgsm_html(pg_catalog.left(
                           (SELECT x.text FROM @extschema@.pg_stat_monitor_texts x
                            WHERE x.text_id = l.text_id), 2000))),
                       '' ORDER BY l.rk) || '</table>', '<p>None.</p>')) AS tbl
        FROM (VALUES (1, 'Slower', 'in both periods, by the time their slowdown cost in period 2'),
                     (2, 'New', 'in period 2 only, by execution time'),
                     (3, 'Gone', 'in period 1 only, by execution time')) k(ord, title, note)
             LEFT JOIN lists l ON l.ord = k.ord AND l.rk <= top
        GROUP BY k.ord, k.title, k.note)
    SELECT '<h2 id="totals">Totals</h2><table><tr><th></th><th>period 1</th><th>period 2</th><th>change</th></tr>'
        || (SELECT pg_catalog.string_agg(pg_catalog.format(
                '<tr><th>%s</th><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>',
                m.label, @extschema@.pgsm_report_number(m.v1, m.unit), @extschema@.pgsm_report_number(m.v2, m.unit),
                CASE WHEN m.v1 > 0 AND m.v2 IS NOT NULL
                     THEN pg_catalog.to_char(100 * (m.v2 - m.v1) / m.v1, 'FMSG99999990.0') || '%'
                     ELSE '' END), '' ORDER BY m.ord) FROM measures m)
        || '</table>'
        || coalesce((SELECT pg_catalog.string_agg(t.tbl, '' ORDER BY t.ord) FROM tables t), '')
    INTO part;
    html := html || part;

    -- errors and warnings by SQLSTATE
    SELECT '<h2 id="errors">Errors by SQLSTATE</h2>'
        || coalesce('<table><tr><th>SQLSTATE</th><th>level</th><th>period 1</th><th>period 2</th><th>a message</th></tr>'
                    || pg_catalog.string_agg(pg_catalog.format(
                           '<tr><td><code>%s</code></td><td>%s</td><td class="n">%s</td><td class="n">%s</td><td><code>%s</code></td></tr>',
                           @extschema@.pgsm_html(e.sqlcode),
                           @extschema@.pgsm_html(@extschema@.decode_error_level(e.elevel)),
                           @extschema@.pgsm_report_number(e.n1), @extschema@.pgsm_report_number(e.n2),
                           @extschema@.pgsm_html(pg_catalog.left(e.message, 500))),
                           '' ORDER BY coalesce(e.n2, 0) DESC, e.sqlcode)
                    || '</table>', '<p>No errors or warnings in either period.</p>')
    INTO part
    FROM (SELECT h.sqlcode, h.elevel,
                 coalesce(pg_catalog.sum(h.calls) FILTER (WHERE h.n = 1), 0) AS n1,
                 coalesce(pg_catalog.sum(h.calls) FILTER (WHERE h.n = 2), 0) AS n2,
                 pg_catalog.max(h.message) AS message
          FROM (SELECT 1 AS n, x.* FROM pg_catalog.unnest(rs1) x
                UNION ALL
                SELECT 2, x.* FROM pg_catalog.unnest(rs2) x) h
          WHERE h.elevel <> 0
          GROUP BY 1, 2) e;
    html := html || part;

    -- logical decoding per slot
    SELECT '<h2 id="decoding">Logical decoding</h2>'
        || coalesce('<table><tr><th>slot</th><th>decoded 1</th><th>decoded 2</th><th>spilled 1</th><th>spilled 2</th>'
                    '<th>streamed 1</th><th>streamed 2</th><th>advice for period 2</th></tr>'
                    || pg_catalog.string_agg(pg_catalog.format(
                           '<tr><td>%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s (%s%%)</td>'
                           '<td class="n">%s (%s%%)</td><td class="n">%s (%s%%)</td><td class="n">%s (%s%%)</td><td>%s</td></tr>',
                           @extschema@.pgsm_html(coalesce(b.slot_name, a.slot_name)),
                           @extschema@.pgsm_report_number(coalesce(a.total_bytes, 0), 'bytes'),
                           @extschema@.pgsm_report_number(coalesce(b.total_bytes, 0), 'bytes'),
                           @extschema@.pgsm_report_number(coalesce(a.spill_bytes, 0), 'bytes'), coalesce(a.spilled_pct, 0),
                           @extschema@.pgsm_report_number(coalesce(b.spill_bytes, 0), 'bytes'), coalesce(b.spilled_pct, 0),
                           @extschema@.pgsm_report_number(coalesce(a.stream_bytes, 0), 'bytes'), coalesce(a.streamed_pct, 0),
                           @extschema@.pgsm_report_number(coalesce(b.stream_bytes, 0), 'bytes'), coalesce(b.streamed_pct, 0),
                           CASE WHEN b.hint IS NULL THEN ''
                                ELSE '<div class="hint">' || @extschema@.pgsm_html(b.hint) || '</div>' END),
                           '' ORDER BY coalesce(b.slot_name, a.slot_name))
                    || '</table>', '<p>No logical replication slot decoded in either period.</p>')
    INTO part
    FROM @extschema@.pg_stat_monitor_decoding_advice(from1, to1) a
         FULL JOIN @extschema@.pg_stat_monitor_decoding_advice(from2, to2) b ON b.slot_name = a.slot_name;
    html := html || part;

    html := html || pg_catalog.format('<p class="note">Made in %s ms.</p>',
        pg_catalog.round((extract(epoch FROM pg_catalog.clock_timestamp() - t0) * 1000)::numeric));
    RETURN @extschema@.pgsm_report_page('pg_stat_monitor diff report', html);
END
$$;

-- The reports read history: for superusers and pg_read_all_stats
REVOKE ALL ON FUNCTION
    @extschema@.pgsm_report_grid(timestamptz, timestamptz, int),
    @extschema@.pgsm_report_slots(timestamptz, timestamptz, numeric, numeric, name, name, int),
    @extschema@.pg_stat_monitor_report(timestamptz, timestamptz, name, name, int),
    @extschema@.pg_stat_monitor_diff_report(timestamptz, timestamptz, timestamptz, timestamptz,
                                            name, name, int)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.pgsm_report_grid(timestamptz, timestamptz, int),
    @extschema@.pgsm_report_slots(timestamptz, timestamptz, numeric, numeric, name, name, int),
    @extschema@.pg_stat_monitor_report(timestamptz, timestamptz, name, name, int),
    @extschema@.pg_stat_monitor_diff_report(timestamptz, timestamptz, timestamptz, timestamptz,
                                            name, name, int)
    TO pg_read_all_stats;
