-- History partitions: made ahead of need, dropped after the retention
-- (defaults: one day each, seven days kept), texts pruned with them.
CREATE EXTENSION pg_stat_monitor;
SET TimeZone = 'UTC';
SHOW pg_stat_monitor.pgsm_partition_span;
SHOW pg_stat_monitor.pgsm_retention;

-- no partition until the worker, or this function, makes one
SELECT count(*) FROM pgsm_partitions('pg_stat_monitor_entries');
SELECT pgsm_maintain_partitions('2030-01-10 12:00+00');
SELECT partition, lower_bound, upper_bound
FROM pgsm_partitions('pg_stat_monitor_entries') ORDER BY lower_bound;

-- a row for a time with no partition yet gets one
SELECT pgsm_ensure_partition('pg_stat_monitor_entries', '2030-01-05 03:00+00');
SELECT pgsm_ensure_partition('pg_stat_monitor_entries', '2030-01-05 04:00+00');
SELECT partition, lower_bound, upper_bound
FROM pgsm_partitions('pg_stat_monitor_entries') ORDER BY lower_bound;

-- texts and export records that no kept row can need go too (texts: no
-- rollup either, kept two years by default)
INSERT INTO pg_stat_monitor_texts (text_id, text, last_used)
VALUES (1, 'old text', '2028-01-01'), (2, 'recent text', '2030-01-19');
INSERT INTO pg_stat_monitor_exports (batch_id, exported_at, rows)
VALUES (1, '2030-01-01', 0), (2, '2030-01-19', 0);

-- ten days later: partitions that ended more than seven days ago go
SELECT pgsm_maintain_partitions('2030-01-20 12:00+00');
SELECT partition, lower_bound, upper_bound
FROM pgsm_partitions('pg_stat_monitor_entries') ORDER BY lower_bound;
SELECT text FROM pg_stat_monitor_texts ORDER BY text_id;
SELECT batch_id FROM pg_stat_monitor_exports ORDER BY batch_id;

-- every partitioned table of the extension is kept alike
SELECT c.relname, count(p.*) AS partitions
FROM pg_class c
JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
LEFT JOIN LATERAL pgsm_partitions(c.oid) p ON true
WHERE c.relkind = 'p'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_stat_monitor')
GROUP BY c.relname ORDER BY c.relname;

-- no DEFAULT partition: a row needs its partition
INSERT INTO pg_stat_monitor_entries (bucket, bucket_start_time, userid, dbid,
    queryid, toplevel, cmd_type, elevel, calls, total_exec_time,
    min_exec_time, max_exec_time, sum_var_exec_time, rows, shared_blks_hit,
    shared_blks_read, shared_blks_dirtied, shared_blks_written,
    local_blks_hit, local_blks_read, local_blks_dirtied, local_blks_written,
    temp_blks_read, temp_blks_written, blk_read_time, blk_write_time,
    temp_blk_read_time, temp_blk_write_time, resp_calls, cpu_user_time,
    cpu_sys_time, wal_records, wal_fpi, wal_bytes, plans, total_plan_time,
    min_plan_time, max_plan_time, sum_var_plan_time, jit_functions,
    jit_generation_time, jit_inlining_count, jit_inlining_time,
    jit_optimization_count, jit_optimization_time, jit_emission_count,
    jit_emission_time, batch_id)
VALUES (1, '2031-01-01', 10, 1, 1, true, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '{}', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 1);

-- only privileged roles read history
SELECT has_table_privilege('public', 'pg_stat_monitor_entries', 'SELECT') AS public_reads,
       has_table_privilege('pg_read_all_stats', 'pg_stat_monitor_entries', 'SELECT') AS stats_reads,
       has_function_privilege('public', 'pgsm_maintain_partitions(timestamptz)', 'EXECUTE') AS public_maintains;

DROP EXTENSION pg_stat_monitor;
