-- What users and tools of pg_stat_monitor and pg_stat_statements call:
-- histogram() as pg_stat_monitor declares it, pg_stat_monitor in a
-- database other than pgsm_database, and pg_stat_monitor_statements.
CREATE EXTENSION pg_stat_monitor;
SELECT pg_stat_monitor_reset();

SELECT pg_sleep(0.002) AS compat_marker;
SELECT pg_sleep(0.002) AS compat_marker;

-- histogram() with an int bucket and a column definition list, as
-- pg_stat_monitor documents it (its regression test passes an int
-- variable); with an int8 bucket, the columns are known
CREATE FUNCTION upstream_histogram() RETURNS TABLE (range text, freq int, bar text)
LANGUAGE plpgsql AS $$
DECLARE
    bucket_id int;
    query_id int8;
BEGIN
    SELECT bucket, queryid INTO bucket_id, query_id FROM pg_stat_monitor
    WHERE query = 'SELECT pg_sleep($1) AS compat_marker';
    RETURN QUERY SELECT * FROM histogram(bucket_id, query_id) AS a (range text, freq int, bar text);
END
$$;
SELECT count(*) AS cells, sum(freq) AS calls FROM upstream_histogram();
SELECT count(*) AS cells, sum(freq) AS calls
FROM pg_stat_monitor m, histogram(m.bucket, m.queryid)
WHERE m.query = 'SELECT pg_sleep($1) AS compat_marker';
-- the same rows either way
SELECT (SELECT array_agg(h ORDER BY h) FROM upstream_histogram() h)
     = (SELECT array_agg(h ORDER BY h)
        FROM pg_stat_monitor m,
             histogram(m.bucket::int, m.queryid) AS h (range text, freq int, bar text)
        WHERE m.query = 'SELECT pg_sleep($1) AS compat_marker') AS same;
-- what each form refuses, in PostgreSQL's words
SELECT * FROM histogram(1::int, 1);
SELECT * FROM histogram(1::int8, 1) AS a (range text, freq int, bar text);

-- This database is not pgsm_database: pg_stat_monitor shows what the store
-- holds, as pg_stat_monitor_live does, rather than an empty history
SELECT current_database() <> current_setting('pg_stat_monitor.pgsm_database') AS elsewhere,
       pgsm_shows_history();
SELECT query, calls, bucket_done FROM pg_stat_monitor
WHERE query LIKE '%compat_marker%' ORDER BY query COLLATE "C";
SELECT (SELECT count(*) FROM pg_stat_monitor) = (SELECT count(*) FROM pg_stat_monitor_live)
    AS same_rows;
-- and only the store is read
CREATE FUNCTION plan_lines(q text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        RETURN NEXT l;
    END LOOP;
END
$$;
SELECT bool_or(l ~ 'on pgsm_recent .*\(never executed\)') AS history_not_read,
       bool_or(l ~ 'Function Scan on pg_stat_monitor_internal .*\(actual rows') AS store_read
FROM plan_lines('SELECT * FROM pg_stat_monitor') l;

-- pg_stat_monitor_statements: the columns of pg_stat_statements' view on
-- this server, in its order and of its types (its view can be created
-- without the library loaded), and after them, before PostgreSQL 17,
-- 1.11's stats_since and minmax_stats_since
CREATE SCHEMA pgss;
CREATE EXTENSION pg_stat_statements SCHEMA pgss;
SELECT count(p.attname) > 40 AS many_columns,
       count(*) FILTER (WHERE p.attname IS NOT NULL
                          AND (p.attname IS DISTINCT FROM m.attname
                               OR p.type IS DISTINCT FROM m.type)) AS differences,
       coalesce(array_agg(m.attname::text || ' ' || m.type ORDER BY m.attnum)
                    FILTER (WHERE p.attname IS NULL), '{}')
           <@ '{"stats_since timestamp with time zone",
                "minmax_stats_since timestamp with time zone"}' AS extra_since,
       bool_and(m.attname IS NOT NULL) AS none_missing,
       bool_or(m.attname = 'stats_since') AS has_since
FROM (SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_attribute a
      WHERE a.attrelid = 'pgss.pg_stat_statements'::regclass AND a.attnum > 0) p
     FULL JOIN
     (SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_attribute a
      WHERE a.attrelid = 'pg_stat_monitor_statements'::regclass AND a.attnum > 0) m
     ON m.attnum = p.attnum;
DROP EXTENSION pg_stat_statements;
DROP SCHEMA pgss;
-- one row per user, database, level and query id; no error rows
SELECT count(*) = count(DISTINCT (userid, dbid, toplevel, queryid)) AS one_row_per_key
FROM pg_stat_monitor_statements;
SELECT query, calls, rows, mean_exec_time >= 2 AS slept,
       min_exec_time <= mean_exec_time AND mean_exec_time <= max_exec_time AS ordered,
       stats_since <= now() AND minmax_stats_since = stats_since AS since
FROM pg_stat_monitor_statements
WHERE query LIKE '%compat_marker%';
-- the store's figures, added up over its rows
SELECT s.calls = l.calls AND s.total_exec_time = l.total AS agrees
FROM pg_stat_monitor_statements s,
     (SELECT sum(calls) AS calls, sum(total_exec_time) AS total
      FROM pg_stat_monitor_live
      WHERE query = 'SELECT pg_sleep($1) AS compat_marker' AND elevel = 0) l
WHERE s.query = 'SELECT pg_sleep($1) AS compat_marker';

DROP FUNCTION upstream_histogram();
DROP FUNCTION plan_lines(text);
DROP EXTENSION pg_stat_monitor;
