-- Several statements sent in one string (psql's \; sends them together):
-- each is recorded with its own text, and an error in one of them under
-- the text from that statement on.
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE ms (a int);
SELECT pg_stat_monitor_reset();

SELECT 1 AS first \; SELECT 'two' AS second \; INSERT INTO ms VALUES (3);
SELECT count(*) AS third FROM ms \; UPDATE ms SET a = 4 \; SELECT 1 / 0 AS fails;

SELECT query, sum(calls) AS calls, elevel, sqlcode
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, elevel, sqlcode
ORDER BY query COLLATE "C", elevel;

DROP TABLE ms;
DROP EXTENSION pg_stat_monitor;
