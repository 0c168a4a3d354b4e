-- Query texts are normalized by default (pg_stat_monitor.pgsm_normalized_query
-- is on in this fork): each literal becomes $n.  Malformed or huge texts get
-- the server's error and are recorded; nothing recorded before is lost.
CREATE EXTENSION pg_stat_monitor;
SHOW pg_stat_monitor.pgsm_normalized_query;
SHOW pg_stat_monitor.pgsm_query_max_len;
CREATE TABLE nt (a int, b text, "it's" int);
SELECT pg_stat_monitor_reset();

SELECT 42, 7, 3.14, .5, 1e-3, 'text', E'it\'s', U&'\0041', B'101', X'1F',
       $$dollar$$, $tag$ with $$ inside $tag$, 'x'::text, interval '1 day',
       ARRAY[1, 2], '{3,4}'::int[], "it's" FROM nt WHERE b IN ('a', 'b');
SELECT a FROM nt WHERE b = 'it''s' AND a BETWEEN 1 AND 2 LIMIT 10 OFFSET 5;
SELECT 1 /* a /* nested */ comment */ + 2 -- and a line comment
;
-- a minus sign after an operator, comma or parenthesis is part of the
-- number, as the parser folds it; after a keyword it stays
SELECT abs(-1), 2 - -3, 4 * -.5, -6 FROM nt WHERE a = -7;
SELECT CASE WHEN a > 0 THEN -1 ELSE -2 END FROM nt;
-- numbering goes on after the parameters the statement has
PREPARE np(int, int) AS SELECT $2 + 100, $1 * 200;
EXECUTE np(1, 2);
DEALLOCATE np;
-- utility statements are normalized too, a password say
CREATE ROLE regress_pgsm_norm PASSWORD 'secret';
DROP ROLE regress_pgsm_norm;

-- NULL is a constant like the others, but not in IS [NOT] NULL, nor in a
-- utility statement
INSERT INTO nt VALUES (1, NULL);
SELECT a FROM nt WHERE b IS NULL OR b IS NOT NULL OR b IS DISTINCT FROM NULL;
CREATE TABLE nt_null (a int DEFAULT NULL);
DROP TABLE nt_null;

-- off: texts as sent, utility statements too (passwords still masked)
SET pg_stat_monitor.pgsm_normalized_query = off;
SELECT a FROM nt WHERE b = 'kept as is';
CREATE TABLE nt_off (a int DEFAULT 42, b text DEFAULT 'kept too');
DROP TABLE nt_off;
CREATE ROLE regress_pgsm_norm_off PASSWORD 'secret' CONNECTION LIMIT 7;
DROP ROLE regress_pgsm_norm_off;
RESET pg_stat_monitor.pgsm_normalized_query;

SELECT query FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%' AND query NOT LIKE '%normalized_query%'
GROUP BY query
ORDER BY query COLLATE "C";

CREATE TEMP TABLE recorded_before AS
SELECT queryid, query, sum(calls) AS calls FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%' GROUP BY queryid, query;

-- Malformed texts, sent as they are (\gexec sends each value as a query;
-- they are not echoed, nor their errors' long lines)
\set ECHO none
\set VERBOSITY terse
SELECT 'SELECT ''unterminated' \gexec
SELECT 'SELECT 1 /* unterminated comment' \gexec
SELECT 'SELECT $q$ unterminated dollar quote' \gexec
SELECT 'SELECT 1 /* a /* nested */ unterminated' \gexec
SELECT 'SELECT FROM WHERE nothing' \gexec
-- about 1 MB: a valid statement, an invalid one, and a huge literal
SELECT 'SELECT count(*) FROM (VALUES ' ||
       string_agg('(' || i || ')', ',') || ') v' FROM generate_series(1, 120000) i \gexec
SELECT 'SELEC ' || repeat('x', 1048576) \gexec
SELECT format('SELECT length(%L)', repeat('y', 1048576)) \gexec
-- an error message of more than 256 bytes (its value kept, to be cut)
SET pg_stat_monitor.pgsm_mask_error_values = off;
SELECT format('SELECT %L::int', repeat('z', 300)) \gexec
RESET pg_stat_monitor.pgsm_mask_error_values;
\set ECHO all
\set VERBOSITY default

SELECT left(query, 60) AS query, octet_length(query) AS query_bytes,
       sum(calls) AS calls, elevel, sqlcode, left(message, 60) AS message,
       octet_length(message) AS message_bytes
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%' AND (elevel <> 0 OR length(query) > 1000
      OR query LIKE 'SELECT length%')
GROUP BY query, elevel, sqlcode, message
ORDER BY left(query, 60) COLLATE "C", sqlcode;

-- nothing recorded before was lost: every statement is still there, with
-- at least its calls
SELECT count(*) AS recorded_before,
       count(*) FILTER (WHERE (SELECT sum(calls) FROM pg_stat_monitor_live m
                               WHERE m.queryid = b.queryid AND m.query = b.query)
                              >= b.calls) AS kept
FROM recorded_before b;
SELECT count(*) AS first_statement_kept FROM pg_stat_monitor_live
WHERE query LIKE 'SELECT $1, $2, $3, $4, $5%';

DROP TABLE nt, recorded_before;
DROP EXTENSION pg_stat_monitor;
