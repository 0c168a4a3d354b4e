-- The lexer follows standard_conforming_strings: with it off, backslashes
-- escape in plain '' strings as in E'' strings, so that no literal escapes
-- normalization.
CREATE EXTENSION pg_stat_monitor;
SELECT pg_stat_monitor_reset();

SET standard_conforming_strings = off;
SET escape_string_warning = off;
SELECT 'x\'', 'Secret-1';
SELECT 'a\\', 'Secret-2', 2;
SELECT N'n\'', 'Secret-3', 3, 3;
SELECT E'e\'', 'Secret-4', 4, 4, 4;
RESET escape_string_warning;
RESET standard_conforming_strings;
-- with it on, a backslash is an ordinary character
SELECT 'y\', 'Secret-5', 5, 5, 5, 5;
SELECT E'f\'', 'Secret-6', 6, 6, 6, 6, 6;

SELECT query, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE query LIKE 'SELECT $1, $2%'
GROUP BY query
ORDER BY query COLLATE "C";

SELECT count(*) AS leaks FROM pg_stat_monitor_live
WHERE query ILIKE '%secret%';

DROP EXTENSION pg_stat_monitor;
