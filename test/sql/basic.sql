-- The collector: statements land in pg_stat_monitor with their counters
CREATE EXTENSION pg_stat_monitor;
SELECT pg_stat_monitor_reset();

CREATE TABLE t (a int);
INSERT INTO t SELECT generate_series(1, 10);
SELECT count(*) FROM t WHERE a > 5;
SELECT count(*) FROM t WHERE a > 7;
UPDATE t SET a = a + 1 WHERE a < 3;

SELECT query, calls, rows, cmd_type_text, relations, toplevel
FROM pg_stat_monitor
ORDER BY query COLLATE "C";

-- the view has pg_stat_monitor's 65 columns, in its order
SELECT count(*) FROM information_schema.columns
WHERE table_name = 'pg_stat_monitor';

SELECT pg_stat_monitor_version();
DROP TABLE t;
DROP EXTENSION pg_stat_monitor;
