-- pg_stat_monitor.pgsm_track: none, top (statements sent by the client) or
-- all (nested ones too, with their top-level statement)
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE lt (a int);
INSERT INTO lt VALUES (1), (2), (3);
CREATE FUNCTION lt_count(x int) RETURNS bigint LANGUAGE plpgsql AS
$$ BEGIN RETURN (SELECT count(*) FROM lt WHERE a >= x); END $$;
CREATE FUNCTION lt_sql(x int) RETURNS bigint LANGUAGE sql AS
$$ SELECT count(*) FROM lt WHERE a <= x $$;
-- a nested statement's constants are numbered after the parameters its
-- text does not show (x is $1 to the parser), as pg_stat_statements does
CREATE FUNCTION lt_const(x int) RETURNS bigint LANGUAGE plpgsql AS
$$ BEGIN RETURN (SELECT count(*) FROM lt WHERE a >= x AND a < 100); END $$;

SHOW pg_stat_monitor.pgsm_track;
SELECT pg_stat_monitor_reset();
SELECT lt_count(1);

SET pg_stat_monitor.pgsm_track = 'all';
SELECT lt_count(2);
SELECT lt_sql(2), lt_count(3);
DO $$ BEGIN PERFORM lt_count(1); END $$;
SELECT lt_const(1);

SET pg_stat_monitor.pgsm_track = 'none';
SELECT lt_count(3);
RESET pg_stat_monitor.pgsm_track;

SELECT query, toplevel, top_query, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, toplevel, top_query
ORDER BY query COLLATE "C", top_query COLLATE "C";

-- top_queryid is the query id of the statement the client sent
SELECT n.query, t.query AS top
FROM pg_stat_monitor_live n JOIN pg_stat_monitor_live t
  ON t.queryid = n.top_queryid AND t.toplevel
WHERE NOT n.toplevel
ORDER BY n.query COLLATE "C", t.query COLLATE "C";
SELECT count(*) AS toplevel_with_top_queryid
FROM pg_stat_monitor_live WHERE toplevel AND top_queryid IS NOT NULL;

-- A query or a SET that fails, inside a PL/pgSQL exception block or at top
-- level, leaves no nesting level behind: the statement after the block is
-- nested, the statements after the DO block and after the error are
-- top-level.
SELECT pg_stat_monitor_reset();
SET pg_stat_monitor.pgsm_track = 'all';
DO $$
BEGIN
    BEGIN
        PERFORM 1 / (a - a) FROM lt;
    EXCEPTION WHEN division_by_zero THEN
        NULL;
    END;
    BEGIN
        SET work_mem = 'lots';
    EXCEPTION WHEN invalid_parameter_value THEN
        NULL;
    END;
    PERFORM count(*) AS lt_after_caught FROM lt;
END $$;
RESET pg_stat_monitor.pgsm_track;
SELECT count(*) AS lt_after_do FROM lt;
SELECT 1 / (a - a) AS lt_failed FROM lt;
SELECT max(a) AS lt_after_error FROM lt;
SELECT query, toplevel, elevel, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE query LIKE '%lt\_%' AND query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, toplevel, elevel
ORDER BY query COLLATE "C", toplevel, elevel;

DROP FUNCTION lt_count(int), lt_sql(int), lt_const(int);
DROP TABLE lt;
DROP EXTENSION pg_stat_monitor;
