-- pg_stat_monitor.pgsm_enable_query_plan: each plan of a statement is a
-- row of its own, with planid and query_plan, and the planning that made a
-- plan is counted in the same row
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE qp (a int PRIMARY KEY, b int);
INSERT INTO qp SELECT i, i FROM generate_series(1, 1000) i;
ANALYZE qp;
SELECT pg_stat_monitor_reset();

-- off by default: no plan
SHOW pg_stat_monitor.pgsm_enable_query_plan;
SELECT b FROM qp WHERE a = 1;

SET pg_stat_monitor.pgsm_enable_query_plan = on;
SELECT b FROM qp WHERE a = 2;
SELECT b FROM qp WHERE a = 2;
-- other values, the same plan: the same plan id, one row
SELECT b FROM qp WHERE a = 5;
SELECT count(*) FROM qp WHERE a > 0;
SELECT count(*) FROM qp WHERE a > 990;

-- a prepared statement: custom plans first, then a generic one planned
-- once, of the same shape: one row
PREPARE p(int) AS SELECT b FROM qp WHERE a = $1;
EXECUTE p(3);
EXECUTE p(3);
EXECUTE p(3);
EXECUTE p(3);
EXECUTE p(3);
EXECUTE p(3);
EXECUTE p(3);
DEALLOCATE p;
RESET pg_stat_monitor.pgsm_enable_query_plan;

SELECT query, planid IS NOT NULL AS has_planid, query_plan,
       sum(calls) AS calls, sum(plans) AS plans
FROM pg_stat_monitor_live
WHERE query LIKE '%qp%'
GROUP BY query, planid, query_plan
ORDER BY query COLLATE "C", query_plan COLLATE "C" NULLS FIRST;

-- a statement with two plans has two rows, with the same query id
SELECT count(DISTINCT planid) AS plans, count(DISTINCT queryid) AS queryids
FROM pg_stat_monitor_live WHERE query = 'SELECT count(*) FROM qp WHERE a > $1';

DROP TABLE qp;
DROP EXTENSION pg_stat_monitor;
