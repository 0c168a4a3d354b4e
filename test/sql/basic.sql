-- The collector: statements land in pg_stat_monitor with their counters
CREATE EXTENSION pg_stat_monitor;
SELECT pg_stat_monitor_reset();

CREATE TABLE t (a int);
INSERT INTO t SELECT generate_series(1, 10);
SELECT count(*) FROM t WHERE a > 5;
SELECT count(*) FROM t WHERE a > 7;
UPDATE t SET a = a + 1 WHERE a < 3;

-- what shared memory holds (the worker exports to another database)
SELECT query, calls, rows, cmd_type_text, relations, toplevel
FROM pg_stat_monitor_live
ORDER BY query COLLATE "C";

-- pg_stat_monitor, the live view and the history have pg_stat_monitor's
-- columns for the server's version (test columns), in the same order
SELECT c.relname, c.relkind,
       count(*) = (SELECT count(*) FROM pgsm_view_columns(
                       with_server => c.relname = 'pg_stat_monitor_history')) AS all_columns
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relname IN ('pg_stat_monitor', 'pg_stat_monitor_live',
                    'pg_stat_monitor_history')
  AND a.attnum > 0
GROUP BY c.relname, c.relkind
ORDER BY c.relname;
SELECT count(DISTINCT (a.attnum, a.attname, a.atttypid)) =
       (SELECT count(*) FROM pgsm_view_columns(with_server => true)) AS same_columns
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relname IN ('pg_stat_monitor', 'pg_stat_monitor_live',
                    'pg_stat_monitor_history')
  AND a.attnum > 0;

SELECT pg_stat_monitor_version();
DROP TABLE t;
DROP EXTENSION pg_stat_monitor;
