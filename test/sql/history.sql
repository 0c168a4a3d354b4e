-- pg_stat_monitor_history adds the parts of a bucket exported early back
-- together: counts summed, minima and maxima kept, the mean and standard
-- deviation recomputed from the parts' sums of squares, histograms summed.
CREATE EXTENSION pg_stat_monitor;
SET TimeZone = 'UTC';
SELECT pgsm_ensure_partition('pg_stat_monitor_entries', '2020-01-01');
INSERT INTO pg_stat_monitor_texts (text_id, text) VALUES (7, 'SELECT $1');

-- statement 42 ran four times, 1, 3, 5 and 7 ms, exported in two parts;
-- statement 43 once, 9 ms
INSERT INTO pg_stat_monitor_entries (bucket, bucket_start_time, userid, dbid,
    queryid, toplevel, query_text_id, cmd_type, elevel, calls,
    total_exec_time, min_exec_time, max_exec_time, sum_var_exec_time, rows,
    shared_blks_hit, shared_blks_read, shared_blks_dirtied,
    shared_blks_written, local_blks_hit, local_blks_read, local_blks_dirtied,
    local_blks_written, temp_blks_read, temp_blks_written, blk_read_time,
    blk_write_time, temp_blk_read_time, temp_blk_write_time, resp_calls,
    cpu_user_time, cpu_sys_time, wal_records, wal_fpi, wal_bytes, plans,
    total_plan_time, min_plan_time, max_plan_time, sum_var_plan_time,
    jit_functions, jit_generation_time, jit_inlining_count,
    jit_inlining_time, jit_optimization_count, jit_optimization_time,
    jit_emission_count, jit_emission_time, batch_id)
SELECT 1, '2020-01-01', 10, 1, v.queryid, true, 7, 1, 0, v.calls,
       v.total, v.lo, v.hi, v.sum_var, v.calls, v.calls, 0, 0, 0, 0, 0, 0,
       0, 0, 0, 0, 0, 0, 0, v.resp, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       0, 0, 0, 0, 0, v.batch
FROM (VALUES (42, 2, 4.0, 1.0, 3.0, 2.0, '{1,2,0}'::int8[], 1),
             (42, 2, 12.0, 5.0, 7.0, 2.0, '{0,1,3}'::int8[], 2),
             (43, 1, 9.0, 9.0, 9.0, 0.0, '{0,0,1}'::int8[], 2))
     AS v(queryid, calls, total, lo, hi, sum_var, resp, batch);

SELECT queryid, query, calls, rows, total_exec_time, min_exec_time,
       max_exec_time, mean_exec_time, round(stddev_exec_time::numeric, 4)
           AS stddev_exec_time,
       resp_calls, plans, min_plan_time, stddev_plan_time, bucket_done
FROM pg_stat_monitor_history ORDER BY queryid;

-- the same as a standard deviation over the four times
SELECT round(stddev_pop(x)::numeric, 4) FROM unnest('{1,3,5,7}'::float8[]) x;

-- histograms are added cell by cell, a NULL cell as zero; those of
-- different lengths, or whose sum overflows, are refused
SELECT pgsm_sum(h) FROM (VALUES ('{1,NULL,3}'::int8[]), ('{1,2,NULL}')) v(h);
SELECT pgsm_sum(h) FROM (VALUES ('{1,2,3}'::int8[]), ('{1,2}')) v(h);
SELECT pgsm_sum(h) FROM (VALUES ('{9223372036854775807}'::int8[]), ('{1}')) v(h);

DROP EXTENSION pg_stat_monitor;
