-- Users who are neither superusers nor members of pg_read_all_stats see
-- '<insufficient privilege>' instead of other users' texts and relations,
-- and may not reset the statistics nor change what is recorded.
CREATE EXTENSION pg_stat_monitor;
CREATE ROLE regress_pgsm_alice;
CREATE ROLE regress_pgsm_bob;
CREATE ROLE regress_pgsm_carol IN ROLE pg_read_all_stats;
CREATE TABLE priv (a int);
GRANT SELECT ON priv TO regress_pgsm_alice, regress_pgsm_bob, regress_pgsm_carol;
SELECT pg_stat_monitor_reset();

SET pg_stat_monitor.pgsm_enable_query_plan = on;
SET pg_stat_monitor.pgsm_extract_comments = on;
SET ROLE regress_pgsm_alice;
SELECT a FROM priv WHERE a = 1 /* alice's comment */;
SELECT 1 / 0;
SET ROLE regress_pgsm_bob;
SELECT count(*) FROM priv;
RESET ROLE;
RESET pg_stat_monitor.pgsm_enable_query_plan;
RESET pg_stat_monitor.pgsm_extract_comments;

-- bob sees his own texts only
SET ROLE regress_pgsm_bob;
SELECT username, query, comments, query_plan, message, relations
FROM pg_stat_monitor_live
WHERE username LIKE 'regress_pgsm_%'
ORDER BY username, query COLLATE "C", message COLLATE "C", comments COLLATE "C",
         relations;
SELECT pg_stat_monitor_reset();
RESET ROLE;

-- carol, a member of pg_read_all_stats, sees everything
SET ROLE regress_pgsm_carol;
SELECT username, query, comments, query_plan IS NOT NULL AS has_plan, message
FROM pg_stat_monitor_live
WHERE username LIKE 'regress_pgsm_%' AND query NOT LIKE '%pg_stat_monitor%'
ORDER BY username, query COLLATE "C", message COLLATE "C";
RESET ROLE;

-- pg_stat_monitor_reset() is not executable by PUBLIC
SELECT r, has_function_privilege(r, 'pg_stat_monitor_reset()', 'EXECUTE')
FROM unnest(ARRAY['regress_pgsm_alice', 'regress_pgsm_carol']) r;
SELECT count(*) AS public_grants
FROM pg_proc p, aclexplode(p.proacl) a
WHERE p.proname = 'pg_stat_monitor_reset' AND a.grantee = 0;

-- what decides whether a statement is recorded, or whether the values it
-- holds are kept, is for superusers to set
SET ROLE regress_pgsm_alice;
SET pg_stat_monitor.pgsm_track = none;
SET pg_stat_monitor.pgsm_track_utility = off;
SET pg_stat_monitor.pgsm_track_planning = off;
SET pg_stat_monitor.pgsm_normalized_query = off;
SET pg_stat_monitor.pgsm_enable_query_plan = on;
SET pg_stat_monitor.pgsm_mask_error_values = off;
SET pg_stat_monitor.pgsm_cpu_time_interval = 0;
-- what only splits rows or fills extra columns is for anyone
SET pg_stat_monitor.pgsm_extract_comments = on;
SET pg_stat_monitor.pgsm_track_application_names = off;
SET pg_stat_monitor.pgsm_enable_pgsm_query_id = off;
RESET ROLE;
RESET pg_stat_monitor.pgsm_extract_comments;
RESET pg_stat_monitor.pgsm_track_application_names;
RESET pg_stat_monitor.pgsm_enable_pgsm_query_id;
-- and a superuser's value must be within its range (the message's wording
-- differs between versions: its SQLSTATE is shown)
DO $$
BEGIN
    SET pg_stat_monitor.pgsm_cpu_time_interval = '2s';
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'pgsm_cpu_time_interval = 2s refused: %', SQLSTATE;
END $$;

DROP TABLE priv;
DROP ROLE regress_pgsm_alice, regress_pgsm_bob, regress_pgsm_carol;
DROP EXTENSION pg_stat_monitor;
