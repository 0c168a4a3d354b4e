-- pg_stat_monitor.pgsm_track_utility: utility statements, with the rows of
-- those that report them (COPY, FETCH, CREATE TABLE AS, REFRESH)
CREATE EXTENSION pg_stat_monitor;
SHOW pg_stat_monitor.pgsm_track_utility;
SELECT pg_stat_monitor_reset();

CREATE TABLE ut (a int);
COPY ut FROM STDIN;
1
2
3
\.
COPY ut TO STDOUT;
CREATE TABLE ut2 AS SELECT * FROM ut;
SELECT * INTO ut3 FROM ut WHERE a > 1;
CREATE MATERIALIZED VIEW umv AS SELECT a FROM ut;
REFRESH MATERIALIZED VIEW umv;
BEGIN;
DECLARE uc CURSOR FOR SELECT a FROM ut ORDER BY a;
FETCH 2 FROM uc;
FETCH ALL FROM uc;
CLOSE uc;
COMMIT;
-- PREPARE, EXECUTE and DEALLOCATE are left out: the prepared statement is
-- counted under its own text
PREPARE up AS SELECT count(*) FROM ut;
EXECUTE up;
EXECUTE up;
DEALLOCATE up;
ALTER ROLE CURRENT_USER SET work_mem = '4MB';
ALTER ROLE CURRENT_USER RESET work_mem;

SET pg_stat_monitor.pgsm_track_utility = off;
CREATE TABLE not_tracked (a int);
DROP TABLE not_tracked;
SELECT max(a) FROM ut;
RESET pg_stat_monitor.pgsm_track_utility;

SELECT query, cmd_type_text, sum(calls) AS calls, sum(rows) AS rows
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, cmd_type_text
ORDER BY query COLLATE "C";

DROP MATERIALIZED VIEW umv;
DROP TABLE ut, ut2, ut3;
DROP EXTENSION pg_stat_monitor;
