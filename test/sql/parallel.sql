-- Parallel workers are not recorded: a statement run in parallel counts
-- once, in its leader.  EXPLAIN ANALYZE shows that the workers were really
-- launched for the statement; with pgsm_track = all, that statement is
-- also recorded as the EXPLAIN's nested statement, once.
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE par (a int);
INSERT INTO par SELECT generate_series(1, 10000);
ANALYZE par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT pg_stat_monitor_reset();

-- the workers run the scan: the leader takes no part
EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM par;
SET pg_stat_monitor.pgsm_track = 'all';
EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM par;
RESET pg_stat_monitor.pgsm_track;
SELECT count(*) FROM par;
SELECT count(*) FROM par;

-- one row per statement and level, counted once per execution by the
-- leader; nothing from the workers (they would add calls, or rows of their
-- own with the scan's partial results)
SELECT query, toplevel, sum(calls) AS calls, sum(rows) AS rows
FROM pg_stat_monitor_live
WHERE query LIKE '%par%' AND query NOT LIKE '%pg_stat_monitor%'
  AND query NOT LIKE '%parallel%'
GROUP BY query, toplevel
ORDER BY query COLLATE "C", toplevel;

-- PostgreSQL 18 counts the workers each execution planned and launched
-- (the columns are not there before: NULL)
SELECT query, sum(calls) AS calls,
       sum((to_jsonb(l) ->> 'parallel_workers_to_launch')::int) AS to_launch,
       sum((to_jsonb(l) ->> 'parallel_workers_launched')::int) AS launched
FROM pg_stat_monitor_live l
WHERE query = 'SELECT count(*) FROM par'
GROUP BY query;

RESET ALL;
DROP TABLE par;
DROP EXTENSION pg_stat_monitor;
