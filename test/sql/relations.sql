-- relations: each table or view a statement names, once, schema-qualified;
-- views marked with a trailing '*'
CREATE EXTENSION pg_stat_monitor;
CREATE SCHEMA rs;
CREATE TABLE r1 (a int);
CREATE TABLE rs.r2 (b int);
CREATE VIEW rv AS SELECT a FROM r1 JOIN rs.r2 ON a = b;
SELECT pg_stat_monitor_reset();

SELECT * FROM r1;
SELECT * FROM r1, rs.r2;
SELECT * FROM r1 x JOIN r1 y USING (a);
SELECT * FROM rv;
INSERT INTO rs.r2 SELECT a FROM r1;
UPDATE r1 SET a = a FROM rs.r2 WHERE a = b;
SELECT 1 AS no_tables;
WITH w AS (SELECT a FROM r1) SELECT count(*) FROM w, generate_series(1, 2);

SELECT query, relations
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, relations
ORDER BY query COLLATE "C";

DROP VIEW rv;
DROP TABLE r1, rs.r2;
DROP SCHEMA rs;
DROP EXTENSION pg_stat_monitor;
