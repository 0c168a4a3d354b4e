-- pgsm_query_id: a hash of the normalized text, the same for the same text
-- whatever the objects it names (unlike queryid: q2.t's column has another
-- type, so its query id differs on every version, although PostgreSQL 18
-- jumbles a table by its name)
CREATE EXTENSION pg_stat_monitor;
CREATE SCHEMA q1;
CREATE SCHEMA q2;
CREATE TABLE q1.t (a int);
CREATE TABLE q2.t (a int8);
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

-- off: NULL, as in pg_stat_monitor
SET pg_stat_monitor.pgsm_enable_pgsm_query_id = off;
SELECT a FROM q1.t WHERE a > 1;
RESET pg_stat_monitor.pgsm_enable_pgsm_query_id;
SELECT query, pgsm_query_id IS NULL AS pgsm_query_id_null FROM pg_stat_monitor_live
WHERE query = 'SELECT a FROM q1.t WHERE a > $1';

-- Comments (query tags) and layout do not change it, and it is the id of the
-- normalized text whatever pgsm_normalized_query says: each application
-- below makes a row of its own for the same statement
SELECT a FROM q1.t WHERE a < 5 /* tag=1 */;
SET application_name = 'regress_pgsm_qid_two';
SELECT   a
  FROM q1.t /* tag=2 */ WHERE a < 6;
SET application_name = 'regress_pgsm_qid_three';
SET pg_stat_monitor.pgsm_normalized_query = off;
SELECT a FROM q1.t WHERE a < 7 -- tag=3
;
RESET pg_stat_monitor.pgsm_normalized_query;
RESET application_name;
SELECT count(*) AS rows, count(DISTINCT query) AS texts,
       count(DISTINCT pgsm_query_id) AS pgsm_query_ids
FROM pg_stat_monitor_live WHERE query LIKE 'SELECT%a%FROM q1.t%<%';

DROP SCHEMA q1, q2 CASCADE;
DROP EXTENSION pg_stat_monitor;
