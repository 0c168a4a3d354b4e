-- application_name: statements are kept apart by application, unless
-- pg_stat_monitor.pgsm_track_application_names is off
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE an (a int);
SELECT pg_stat_monitor_reset();

SET application_name = 'regress_app_one';
SELECT count(*) FROM an;
SET application_name = 'regress_app_two';
SELECT count(*) FROM an;
SELECT count(*) FROM an;
SET pg_stat_monitor.pgsm_track_application_names = off;
SELECT count(*) FROM an;
RESET pg_stat_monitor.pgsm_track_application_names;
RESET application_name;

SELECT query, application_name, sum(calls) AS calls
FROM pg_stat_monitor_live WHERE query = 'SELECT count(*) FROM an'
GROUP BY query, application_name
ORDER BY application_name NULLS FIRST;

DROP TABLE an;
DROP EXTENSION pg_stat_monitor;
