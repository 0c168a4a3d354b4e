-- username and datname are kept with each entry when it is made, so that
-- they still show after the role or the database is dropped
CREATE EXTENSION pg_stat_monitor;
SELECT current_database() AS regress_db \gset
CREATE ROLE regress_pgsm_names_user;
CREATE DATABASE regress_pgsm_names_db;
SELECT pg_stat_monitor_reset();

SET ROLE regress_pgsm_names_user;
SELECT 1 AS names_role;
RESET ROLE;
\c regress_pgsm_names_db
SELECT 1 AS names_db;
\c :regress_db

DROP DATABASE regress_pgsm_names_db;
DROP ROLE regress_pgsm_names_user;

SELECT query,
       CASE WHEN username = current_user THEN '(current_user)' ELSE username END AS username,
       CASE WHEN datname = current_database() THEN '(current_database)' ELSE datname END AS datname
FROM pg_stat_monitor_live
WHERE query LIKE 'SELECT $1 AS names_%'
ORDER BY query COLLATE "C";

-- a statement is filed under the user it started as: SET ROLE under the
-- user before it, RESET ROLE under the role it leaves
SELECT query,
       CASE WHEN username = current_user THEN '(current_user)' ELSE username END AS username
FROM pg_stat_monitor_live
WHERE query LIKE 'SET ROLE%' OR query LIKE 'RESET ROLE%'
ORDER BY query COLLATE "C";

DROP EXTENSION pg_stat_monitor;
