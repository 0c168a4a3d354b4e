-- pg_stat_monitor.pgsm_track_planning (on in test/pgsm.conf): plans and
-- planning times.  Plans are compared with the plannings the server itself
-- counts for prepared statements (pg_prepared_statements), and with the
-- plain statements that were planned; rows are added up over buckets.
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE pl (a int);
SELECT pg_stat_monitor_reset();

SELECT count(*) FROM pl;
SELECT count(*) FROM pl;
-- a generic plan, made once and used three times
PREPARE pp AS SELECT a FROM pl WHERE a = 1;
EXECUTE pp;
EXECUTE pp;
EXECUTE pp;
-- a custom plan at each execution
SET plan_cache_mode = force_custom_plan;
PREPARE pc(int) AS SELECT a FROM pl WHERE a > $1;
EXECUTE pc(1);
EXECUTE pc(2);
EXECUTE pc(3);
EXECUTE pc(4);
RESET plan_cache_mode;
SET pg_stat_monitor.pgsm_track_planning = off;
SELECT count(*) FROM pl;
RESET pg_stat_monitor.pgsm_track_planning;

SELECT query, sum(calls) AS calls, sum(plans) AS plans,
       bool_and(plans = 0 OR (total_plan_time > 0 AND min_plan_time > 0
                              AND min_plan_time <= max_plan_time
                              AND total_plan_time >= max_plan_time)) AS plan_times_ok
FROM pg_stat_monitor_live
WHERE query LIKE '%pl%' AND query NOT LIKE '%pg_stat_monitor%'
GROUP BY query
ORDER BY query COLLATE "C";

-- plannings as the server counts them for the prepared statements: one for
-- a generic plan, one per custom plan
SELECT p.name, p.generic_plans, p.custom_plans,
       (SELECT sum(plans) FROM pg_stat_monitor_live m
        WHERE m.query LIKE 'PREPARE ' || p.name || '%')
         = p.custom_plans + (p.generic_plans > 0)::int AS plans_as_server
FROM pg_prepared_statements p
ORDER BY p.name;

-- utility statements are not planned
SELECT query, sum(plans) AS plans FROM pg_stat_monitor_live
WHERE query LIKE 'SET %' OR query LIKE 'RESET %'
GROUP BY query
ORDER BY query COLLATE "C";

-- A statement run by the planner (an immutable SQL function folded into a
-- constant) is nested: with pgsm_track = top it is not recorded; with all,
-- its planning and its execution are in one nested row.  From PostgreSQL
-- 18 on, a SQL function keeps its plan for the session (the plan cache), so
-- the second call plans nothing and the row has 0 plans (planning_1.out).
CREATE FUNCTION pl_folded() RETURNS int LANGUAGE sql IMMUTABLE
    AS 'SELECT 40 + 2 AS pl_folded_body';
SELECT pg_stat_monitor_reset();
SELECT count(*) FROM pl WHERE a = pl_folded();
SET pg_stat_monitor.pgsm_track = 'all';
SELECT count(*) FROM pl WHERE a > pl_folded();
RESET pg_stat_monitor.pgsm_track;
SELECT query, toplevel, sum(calls) AS calls, sum(plans) AS plans
FROM pg_stat_monitor_live
WHERE query LIKE '%pl_folded%' AND query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, toplevel
ORDER BY query COLLATE "C", toplevel;

-- A planning that fails (an immutable function that raises an error when the
-- planner folds it into a constant) leaves no nesting level behind, whether
-- the error ends the statement or a PL/pgSQL exception block catches it:
-- the statements after it are top-level.
CREATE FUNCTION pl_boom(int) RETURNS int LANGUAGE plpgsql IMMUTABLE
    AS $$ BEGIN RAISE EXCEPTION 'pl_boom %', $1; END $$;
SELECT pg_stat_monitor_reset();
SELECT pl_boom(1) AS pl_failed;
SELECT 1 AS pl_after_error;
SET pg_stat_monitor.pgsm_track = 'all';
DO $$
BEGIN
    BEGIN
        PERFORM pl_boom(2);
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    PERFORM 2 AS pl_after_caught;
END $$;
RESET pg_stat_monitor.pgsm_track;
SELECT count(*) AS pl_after_do FROM pl WHERE a > 0;
SELECT query, toplevel, elevel, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE query LIKE '%pl\_%' AND query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, toplevel, elevel
ORDER BY query COLLATE "C", toplevel, elevel;

-- The reset's own planning is counted with its execution, after the reset;
-- a statement that is running (this one) shows no row with calls = 0.
SELECT pg_stat_monitor_reset();
SELECT query, calls, plans FROM pg_stat_monitor_live
WHERE query LIKE '%pg_stat_monitor%' ORDER BY query COLLATE "C";

-- A planning whose execution failed is recorded alone (calls 0) once a
-- later statement ends, or when the session ends.  (The two statements
-- differ in more than a column alias, so as to have query ids of their own.)
CREATE TABLE pl_zero AS SELECT 1 AS a;
SELECT pg_stat_monitor_reset();
SELECT 1 / (a - a) FROM pl_zero;
SELECT 1 AS next;
SELECT query, calls, plans FROM pg_stat_monitor_live
WHERE query LIKE '%pl_zero' AND elevel = 0;
\c
SELECT a / (a - a) FROM pl_zero;
\c
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN EXISTS (SELECT FROM pg_stat_monitor_live
                          WHERE query = 'SELECT a / (a - a) FROM pl_zero'
                            AND elevel = 0);
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT query, calls, plans FROM pg_stat_monitor_live
WHERE query LIKE '%pl_zero' AND elevel = 0 ORDER BY query COLLATE "C";

DEALLOCATE ALL;
DROP TABLE pl_zero;
DROP FUNCTION pl_folded();
DROP FUNCTION pl_boom(int);
DROP TABLE pl;
DROP EXTENSION pg_stat_monitor;
