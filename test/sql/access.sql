-- What a role with no privileges of its own (PUBLIC only) may do.  It may
-- read the live view, the store's figures and the histogram helpers; it may
-- not read history (tables, their partitions, views), the logical decoding
-- history, nor export, flush, reset, snapshot or maintain partitions.
CREATE EXTENSION pg_stat_monitor;
CREATE ROLE regress_pgsm_plain;
-- partitions of every history table, as the worker makes them, on a fixed
-- day: the daily rollups' partitions span thirty days, so whether one or two
-- cover a day and the next depends on the day
SELECT pgsm_maintain_partitions('2030-01-10 12:00+00');

-- every relation of the extension, and its partitions (named after their
-- start, shown as <start>)
SELECT regexp_replace(c.relname, '_p\d{8}T\d{6}$', '_p<start>') AS relation,
       count(*) AS relations,
       bool_or(has_table_privilege('regress_pgsm_plain', c.oid, 'SELECT')) AS read,
       bool_or(has_table_privilege('regress_pgsm_plain', c.oid,
                                   'INSERT, UPDATE, DELETE, TRUNCATE')) AS write
FROM pg_class c
WHERE c.oid IN (SELECT objid FROM pg_depend
                WHERE refobjid = (SELECT oid FROM pg_extension
                                  WHERE extname = 'pg_stat_monitor')
                  AND classid = 'pg_class'::regclass AND deptype = 'e')
   OR c.oid IN (SELECT inhrelid FROM pg_inherits i JOIN pg_depend d
                ON d.objid = i.inhparent AND d.classid = 'pg_class'::regclass
                   AND d.deptype = 'e'
                   AND d.refobjid = (SELECT oid FROM pg_extension
                                     WHERE extname = 'pg_stat_monitor'))
GROUP BY 1
ORDER BY read DESC, regexp_replace(c.relname, '_p\d{8}T\d{6}$', '_p<start>') COLLATE "C";

-- every function of the extension PUBLIC may run
SELECT p.oid::regprocedure AS function
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
WHERE d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_stat_monitor')
  AND has_function_privilege('regress_pgsm_plain', p.oid, 'EXECUTE')
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- and as that role, in fact
SET ROLE regress_pgsm_plain;
SELECT count(*) >= 0 AS live FROM pg_stat_monitor_live;
SELECT entries_max > 0 AS info FROM pg_stat_monitor_info;
SELECT pg_stat_monitor_flush();
SELECT * FROM pgsm_batch_rows(1);
SELECT pg_stat_monitor_reset();
SELECT pgsm_snapshot_decoding(now());
SELECT pgsm_maintain_partitions(now());
SELECT count(*) FROM pg_stat_monitor;
SELECT count(*) FROM pg_stat_monitor_history;
SELECT count(*) FROM pg_stat_monitor_data;
SELECT count(*) FROM pg_stat_monitor_entries;
SELECT count(*) FROM pg_stat_monitor_texts;
SELECT count(*) FROM pg_stat_monitor_exports;
SELECT count(*) FROM pg_stat_monitor_decoding_snapshots;
SELECT count(*) FROM pg_stat_monitor_slot_history;
SELECT count(*) FROM pg_stat_monitor_subscription_history;
SELECT count(*) FROM pg_stat_monitor_slot_deltas;
SELECT count(*) FROM pg_stat_monitor_subscription_deltas;
SELECT count(*) FROM pg_stat_monitor_decoding_advice;
SELECT count(*) FROM pg_stat_monitor_decoding_advice(now() - interval '1 hour', now(), 10);
RESET ROLE;

DROP ROLE regress_pgsm_plain;
DROP EXTENSION pg_stat_monitor;
