-- Parallel workers are not recorded: a statement run in parallel counts
-- once, in its leader
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE par (a int);
INSERT INTO par SELECT generate_series(1, 10000);
ANALYZE par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM par;
SELECT pg_stat_monitor_reset();

SELECT count(*) FROM par;
SELECT count(*) FROM par;

SELECT query, calls, rows, count(*) OVER () AS entries
FROM pg_stat_monitor_live WHERE query LIKE '%FROM par%';

RESET ALL;
DROP TABLE par;
DROP EXTENSION pg_stat_monitor;
