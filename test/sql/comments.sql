-- pg_stat_monitor.pgsm_extract_comments: the C-style comments of a query in
-- a column of their own
CREATE EXTENSION pg_stat_monitor;
SELECT pg_stat_monitor_reset();

-- off by default
SHOW pg_stat_monitor.pgsm_extract_comments;
/* not kept */ SELECT abs(1);

SET pg_stat_monitor.pgsm_extract_comments = on;
/* app: billing */ SELECT lower('A');
SELECT /* first */ upper('b') /* second */;
SELECT length('c') /* outer /* nested */ still outer */;
SELECT md5('d') -- a line comment is not extracted
;
SELECT '/* inside a string */' || 'e';
RESET pg_stat_monitor.pgsm_extract_comments;

SELECT query, comments
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%' AND cmd_type_text = 'SELECT'
ORDER BY query COLLATE "C";

DROP EXTENSION pg_stat_monitor;
