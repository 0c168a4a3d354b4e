-- pg_stat_monitor.pgsm_extract_comments: the C-style comments of a query in
-- a column of their own.  From PostgreSQL 18 on, a statement's text leaves
-- out the comments before it, as pg_stat_statements shows it there: the
-- texts differ (comments_1.out), the comments do not.
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
-- comments before a statement are its own, also where PostgreSQL 18 leaves
-- them out of its text (comments_1.out), and also after a semicolon
/* lead */ /* two */ SELECT trim('f');
SELECT upper('g') \; /* after */ SELECT 'h', lower('i');
RESET pg_stat_monitor.pgsm_extract_comments;

SELECT query, comments
FROM pg_stat_monitor_live
WHERE query NOT LIKE '%pg_stat_monitor%' AND cmd_type_text = 'SELECT'
ORDER BY query COLLATE "C";

DROP EXTENSION pg_stat_monitor;
