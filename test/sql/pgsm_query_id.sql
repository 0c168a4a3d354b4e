-- pgsm_query_id: a hash of the normalized text, the same for the same text
-- whatever the objects it names (unlike queryid)
CREATE EXTENSION pg_stat_monitor;
CREATE SCHEMA q1;
CREATE SCHEMA q2;
CREATE TABLE q1.t (a int);
CREATE TABLE q2.t (a int);
SELECT pg_stat_monitor_reset();

SET search_path = q1;
SELECT a FROM t WHERE a = 1;
SELECT a FROM t WHERE a = 2;
SET search_path = q2;
SELECT a FROM t WHERE a = 3;
RESET search_path;

SELECT query, relations, count(DISTINCT queryid) AS queryids,
       sum(calls) AS calls
FROM pg_stat_monitor_live WHERE query = 'SELECT a FROM t WHERE a = $1'
GROUP BY query, relations ORDER BY relations;
SELECT count(DISTINCT pgsm_query_id) AS pgsm_query_ids,
       count(DISTINCT queryid) AS queryids,
       bool_and(pgsm_query_id <> 0) AS set
FROM pg_stat_monitor_live WHERE query = 'SELECT a FROM t WHERE a = $1';

-- off: 0
SET pg_stat_monitor.pgsm_enable_pgsm_query_id = off;
SELECT a FROM q1.t WHERE a > 1;
RESET pg_stat_monitor.pgsm_enable_pgsm_query_id;
SELECT query, pgsm_query_id FROM pg_stat_monitor_live
WHERE query = 'SELECT a FROM q1.t WHERE a > $1';

DROP SCHEMA q1, q2 CASCADE;
DROP EXTENSION pg_stat_monitor;
