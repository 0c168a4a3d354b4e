-- application_name: statements are kept apart by application, under the
-- name the session had when each statement started;
-- pg_stat_monitor.pgsm_track_application_names is deprecated and changes
-- nothing
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE an (a int);
INSERT INTO an VALUES (1);
PREPARE an_rename(text) AS
    SELECT count(*) FROM an WHERE set_config('application_name', $1, false) <> '';
SELECT pg_stat_monitor_reset();

SET application_name = 'regress_app_one';
SELECT count(*) FROM an;
SET application_name = 'regress_app_two';
SELECT count(*) FROM an;
SELECT count(*) FROM an;
SET pg_stat_monitor.pgsm_track_application_names = off;
SELECT count(*) FROM an;
RESET pg_stat_monitor.pgsm_track_application_names;
-- a statement that renames the application is filed under the old name
SELECT count(*) FROM an WHERE set_config('application_name', 'regress_app_three', false) <> '';
EXECUTE an_rename('regress_app_four');
SELECT count(*) FROM an;
RESET application_name;

SELECT query, application_name, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE query LIKE '%FROM an%' OR query LIKE 'SET application_name%'
GROUP BY query, application_name
ORDER BY application_name NULLS FIRST, query COLLATE "C";

DEALLOCATE an_rename;
DROP TABLE an;
DROP EXTENSION pg_stat_monitor;
