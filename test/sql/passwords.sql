-- The value after PASSWORD never reaches pg_stat_monitor, however it is
-- spelled, whether the statement ran (utility hook) or failed in the parser
-- (error hook, which sees the text as typed), and with normalization off.
CREATE EXTENSION pg_stat_monitor;
CREATE ROLE regress_pgsm_pw;
SELECT pg_stat_monitor_reset();

\set VERBOSITY terse
ALTER ROLE regress_pgsm_pw PASSWORD 'Sq-Secret-1';
ALTER ROLE regress_pgsm_pw PASSWORD E'Esc-Secret-2\'s';
ALTER ROLE regress_pgsm_pw PASSWORD $$Dollar-Secret-3$$;
ALTER ROLE regress_pgsm_pw PASSWORD $pw$Tag-Secret-4$pw$;
ALTER ROLE regress_pgsm_pw PASSWORD U&'Uni-Secret-5';
ALTER ROLE regress_pgsm_pw ENCRYPTED PASSWORD 'Enc-Secret-6';
ALTER USER regress_pgsm_pw WITH PASSWORD 'User-Secret-7';
-- as psql's \password sends it: already hashed
ALTER ROLE regress_pgsm_pw PASSWORD 'md5a1b2c3d4e5f60718293a4b5c6d7e8f9Secret8';
CREATE USER regress_pgsm_pw2 PASSWORD 'Create-Secret-9' LOGIN;
-- failing in the parser
ALTER ROLE regress_pgsm_pw PASSWORD "Dq-Secret-10";
ALTER ROLE regress_pgsm_pw PASSWORD BareSecret11;
ALTER ROLE regress_pgsm_pw PASSWORD 'Sq-Secret-12' VALID;
CREATE ROLE regress_pgsm_pw3 WITH LOGIN PASSWORD "Dq-Secret-13";
-- normalization off: other literals are kept, passwords are not
SET pg_stat_monitor.pgsm_normalized_query = off;
ALTER ROLE regress_pgsm_pw PASSWORD 'Off-Secret-14';
ALTER ROLE regress_pgsm_pw PASSWORD "Off-Dq-Secret-15";
ALTER ROLE regress_pgsm_pw PASSWORD E'Off-Esc-Secret-16';
SET pg_stat_monitor.pgsm_track = 'all';
DO $$ BEGIN EXECUTE 'ALTER ROLE regress_pgsm_pw PASSWORD ''Do-Secret-17'''; END $$;
RESET pg_stat_monitor.pgsm_track;
SELECT 'kept as typed' AS plain;
RESET pg_stat_monitor.pgsm_normalized_query;
-- PASSWORD NULL has nothing to hide
ALTER ROLE regress_pgsm_pw PASSWORD NULL;
\set VERBOSITY default

SELECT query, toplevel, elevel, sqlcode, message, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE query ILIKE '%password%' OR query LIKE 'DO%' OR query LIKE '%kept as typed%'
GROUP BY query, toplevel, elevel, sqlcode, message
ORDER BY query COLLATE "C", toplevel, message COLLATE "C";

-- no secret in any text
SELECT count(*) AS leaks FROM pg_stat_monitor_live
WHERE concat(query, top_query, message, comments) ILIKE '%secret%';

DROP ROLE regress_pgsm_pw, regress_pgsm_pw2;
DROP EXTENSION pg_stat_monitor;
