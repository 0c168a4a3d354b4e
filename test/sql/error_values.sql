-- With pg_stat_monitor.pgsm_mask_error_values on (the default), messages of
-- data and constraint errors (SQLSTATE classes 22 and 23) are kept with the
-- values they quote masked; names of objects and other classes' messages
-- are kept.  A syntax error's message does not show a literal the text masks.
CREATE EXTENSION pg_stat_monitor;
SHOW pg_stat_monitor.pgsm_mask_error_values;
CREATE TABLE ev (a int PRIMARY KEY, b text CHECK (b <> 'forbidden'),
                 c date);
CREATE TABLE ev_ref (a int REFERENCES ev);
INSERT INTO ev VALUES (1, 'one', '2020-01-01');
SELECT pg_stat_monitor_reset();

\set VERBOSITY terse
SELECT 'sq-secret-789'::int;
SELECT '{"k": "json-secret" ,"m": 1}'::int;
SELECT '2020-13-45 secret'::date;
SELECT convert_from('\xe9e9'::bytea, 'UTF8');
SELECT 1 / 0;
INSERT INTO ev VALUES (1, 'dup-secret');
INSERT INTO ev VALUES (2, 'forbidden');
INSERT INTO ev_ref VALUES (99);
SELECT * FROM "no_such_table_named_secret";
SELECT 'a' 'lit-secret';
SET pg_stat_monitor.pgsm_mask_error_values = off;
SELECT 'unmasked-value'::int AS shown, 2;
RESET pg_stat_monitor.pgsm_mask_error_values;
\set VERBOSITY default

SELECT sqlcode, message, sum(calls) AS calls
FROM pg_stat_monitor_live
WHERE elevel = 21
GROUP BY sqlcode, message
ORDER BY sqlcode, message COLLATE "C";

-- only superusers may turn it off
CREATE ROLE regress_pgsm_ev;
SET ROLE regress_pgsm_ev;
SET pg_stat_monitor.pgsm_mask_error_values = off;
RESET ROLE;

DROP ROLE regress_pgsm_ev;
DROP TABLE ev_ref, ev;
DROP EXTENSION pg_stat_monitor;
