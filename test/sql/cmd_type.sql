-- cmd_type and cmd_type_text follow PostgreSQL 15's CmdType numbering
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE ct (a int, b text);
SELECT pg_stat_monitor_reset();

INSERT INTO ct VALUES (1, 'one');
SELECT a FROM ct;
SELECT b FROM ct FOR UPDATE;
UPDATE ct SET b = 'uno' WHERE a = 1;
MERGE INTO ct USING (SELECT 1 AS a) s ON ct.a = s.a
  WHEN MATCHED THEN UPDATE SET b = 'eins';
DELETE FROM ct;
TRUNCATE ct;
VACUUM ct;

SELECT query, cmd_type, cmd_type_text, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, cmd_type, cmd_type_text
ORDER BY query COLLATE "C";

-- get_cmd_type() names each number
SELECT n, get_cmd_type(n) FROM generate_series(0, 8) n;

DROP TABLE ct;
DROP EXTENSION pg_stat_monitor;
