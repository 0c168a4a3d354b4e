-- Errors and warnings are rows of their own, with elevel, SQLSTATE and
-- message, under the query id of the top-level statement
CREATE EXTENSION pg_stat_monitor;
SELECT pg_stat_monitor_reset();

SELECT 1 / 0;
SELECT 1 / 0;
SELECT * FROM no_such_table;
SELECT 'not a number'::int;
SELEC 1;
DO $$ BEGIN RAISE WARNING 'careful'; END $$;
DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0042'; END $$;
-- an error in a nested statement belongs to the statement the client sent
CREATE FUNCTION fails(x int) RETURNS int LANGUAGE plpgsql AS
$$ BEGIN RETURN 10 / x; END $$;
SELECT fails(0);
-- in a string of several statements, an error belongs to its own statement
SELECT 1 AS first \; SELECT 2 / 0 AS second \; SELECT 3 AS third;
SELECT 1 AS first \; SELECT * FROM still_no_table \; SELECT 3 AS third;
-- an error at commit belongs to the statement whose commit failed
CREATE TABLE pk (a int PRIMARY KEY);
CREATE TABLE fk (a int REFERENCES pk DEFERRABLE INITIALLY DEFERRED);
INSERT INTO fk VALUES (99);
-- NOTICE and lower are not recorded
DO $$ BEGIN RAISE NOTICE 'just saying'; END $$;

SELECT query, elevel, decode_error_level(elevel) AS level, sqlcode, message,
       sum(calls) AS calls, cmd_type_text
FROM pg_stat_monitor_live
WHERE elevel <> 0
GROUP BY query, elevel, sqlcode, message, cmd_type_text
ORDER BY query COLLATE "C", sqlcode;

-- the warning's row and the statement's own row have the same query id
SELECT w.message, ok.calls AS statement_calls, ok.elevel
FROM pg_stat_monitor_live w JOIN pg_stat_monitor_live ok USING (queryid)
WHERE w.elevel = 19 AND ok.elevel = 0;

-- statements that failed have no counters of their own
SELECT query, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE elevel = 0 AND query IN ('SELECT $1 / $2', 'SELECT fails($1)')
GROUP BY query;

-- the messages and numbers of decode_error_level()
SELECT n, decode_error_level(n) FROM unnest(ARRAY[0, 10, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 99]) n;

DROP FUNCTION fails(int);
DROP TABLE fk, pk;
DROP EXTENSION pg_stat_monitor;
