-- Texts are cut at a character boundary: the query at pgsm_query_max_len
-- (2048 bytes here), the message and the comments at 256 bytes.  Each cut
-- below would fall in the middle of a two-byte character, so each text
-- keeps one byte less, and ends with a whole character.  (A non-default
-- pgsm_query_max_len is tested in test/t/068_query_max_len.pl.)
SELECT getdatabaseencoding() <> 'UTF8' AS skip_test \gset
\if :skip_test
\quit
\endif
CREATE EXTENSION pg_stat_monitor;
SELECT pg_stat_monitor_reset();
SET pg_stat_monitor.pgsm_extract_comments = on;

-- "SELECT $1 /* " is 13 bytes: byte 2048 is the first of a character;
-- "/* " is 3 bytes: byte 256 is the first of a character
\set ECHO none
SELECT 'SELECT 1 /* ' || repeat('é', 1100) || ' */ AS long_comment' \gexec
\set ECHO all
-- "x" is 1 byte: byte 256 is the first of a character
DO $$ BEGIN RAISE EXCEPTION '%', 'x' || repeat('é', 200); END $$;
RESET pg_stat_monitor.pgsm_extract_comments;

SELECT left(query, 20) AS query, octet_length(query) AS query_bytes,
       right(query, 1) AS query_ends, octet_length(comments) AS comments_bytes,
       right(comments, 1) AS comments_end
FROM pg_stat_monitor_live WHERE query LIKE 'SELECT $1 /* é%';
SELECT left(query, 20) AS query, octet_length(message) AS message_bytes,
       message = 'x' || repeat('é', 127) AS message_cut_before_character
FROM pg_stat_monitor_live WHERE elevel = 21 AND query LIKE 'DO %';

DROP EXTENSION pg_stat_monitor;
