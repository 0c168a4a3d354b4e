-- pg_stat_monitor.pgsm_track_planning (on in test/pgsm.conf): plans and
-- planning times
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE pl (a int);
SELECT pg_stat_monitor_reset();

SELECT count(*) FROM pl;
SELECT count(*) FROM pl;
PREPARE pp AS SELECT a FROM pl WHERE a = 1;
EXECUTE pp;
EXECUTE pp;
EXECUTE pp;
SET pg_stat_monitor.pgsm_track_planning = off;
SELECT count(*) FROM pl;
RESET pg_stat_monitor.pgsm_track_planning;

SELECT query, sum(calls) AS calls, sum(plans) AS plans,
       bool_and(total_plan_time >= 0 AND min_plan_time <= mean_plan_time
                AND mean_plan_time <= max_plan_time
                AND (plans = 0 OR total_plan_time > 0)) AS plan_times_ok
FROM pg_stat_monitor_live
WHERE query LIKE '%pl%' AND query NOT LIKE '%pg_stat_monitor%'
GROUP BY query
ORDER BY query COLLATE "C";

-- utility statements are not planned
SELECT query, plans FROM pg_stat_monitor_live
WHERE query LIKE 'SET %' OR query LIKE 'RESET %'
ORDER BY query COLLATE "C";

DROP TABLE pl;
DROP EXTENSION pg_stat_monitor;
