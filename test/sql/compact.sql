-- Compaction moves history into one row per statement and day, of arrays;
-- every view over history gives the same answers before and after.
CREATE EXTENSION pg_stat_monitor;
SET TimeZone = 'UTC';
SET extra_float_digits = 3;

-- three finished days of history (buckets of an hour), the bucket in
-- progress apart; each partition made first
SELECT count(pgsm_ensure_partition('pg_stat_monitor_entries', d))
FROM generate_series(pgsm_current_bucket_start() - interval '3 days',
                     pgsm_current_bucket_start(), interval '1 day') d;
INSERT INTO pg_stat_monitor_texts (text_id, text)
SELECT q, 'SELECT ' || q FROM generate_series(1, 6) q;

-- statements 1 to 6, a user each and two databases; each hour of each day
-- exported in one to three parts (batches); statement 6 an overflow row
-- (no queryid) and statement 5 from a client address; times irregular
CREATE TEMP TABLE src AS
SELECT pgsm_current_bucket_start() - interval '3 days'
           + make_interval(hours => h) AS bucket_start_time,
       q, part
FROM generate_series(0, 71) h, generate_series(1, 6) q,
     generate_series(1, 1 + (h + q) % 3) part
WHERE (h * q) % 5 <> 1;

INSERT INTO pg_stat_monitor_entries (bucket, bucket_start_time, userid, username,
    dbid, datname, client_ip, pgsm_query_id, queryid, toplevel, top_queryid,
    query_text_id, comments, planid, plan_text_id, top_query_text_id,
    application_name, relations, cmd_type, elevel, sqlcode, message, calls,
    total_exec_time, min_exec_time, max_exec_time, sum_var_exec_time, rows,
    shared_blks_hit, shared_blks_read, shared_blks_dirtied,
    shared_blks_written, local_blks_hit, local_blks_read, local_blks_dirtied,
    local_blks_written, temp_blks_read, temp_blks_written, blk_read_time,
    blk_write_time, temp_blk_read_time, temp_blk_write_time, resp_calls,
    cpu_user_time, cpu_sys_time, wal_records, wal_fpi, wal_bytes, plans,
    total_plan_time, min_plan_time, max_plan_time, sum_var_plan_time,
    jit_functions, jit_generation_time, jit_inlining_count,
    jit_inlining_time, jit_optimization_count, jit_optimization_time,
    jit_emission_count, jit_emission_time, batch_id, exported_at,
    local_blk_read_time, local_blk_write_time, jit_deform_count,
    jit_deform_time, stats_since, wal_buffers_full,
    parallel_workers_to_launch, parallel_workers_launched)
SELECT extract(epoch FROM s.bucket_start_time)::int8 / 3600, s.bucket_start_time,
       10 + s.q, 'user' || s.q, 1 + s.q % 2, 'db' || (1 + s.q % 2),
       CASE WHEN s.q = 5 THEN '10.0.0.5'::inet END,
       CASE WHEN s.q <> 6 THEN 1000 + s.q END,
       CASE WHEN s.q <> 6 THEN 100 + s.q END, s.q <> 4,
       CASE WHEN s.q = 4 THEN 101 END, s.q,
       CASE WHEN s.q = 2 THEN 'app=x' END, NULL, NULL, NULL, 'app' || s.q % 2,
       CASE WHEN s.q = 3 THEN '{public.t,public.u}'::text[] END,
       1 + s.q % 4, CASE WHEN s.q = 3 THEN 21 ELSE 0 END,
       CASE WHEN s.q = 3 THEN '22012' END,
       CASE WHEN s.q = 3 THEN 'division by zero' END,
       v.calls, v.total, v.lo, v.hi, v.sum_var, v.calls * s.q,
       v.calls * 7, s.part % 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       ARRAY[v.calls - 1, 1, 0]::int8[], v.total / 3, v.total / 7,
       s.q % 2, 0, (s.part * 1234567)::numeric, s.part % 2,
       v.total / 11, v.lo / 11, v.hi / 11, v.sum_var / 121,
       0, 0, 0, 0, 0, 0, 0, 0,
       extract(epoch FROM s.bucket_start_time)::int8 / 60 + s.part,
       s.bucket_start_time + make_interval(secs => 3600 + s.part * 0.123457),
       0, 0, 0, 0, s.bucket_start_time - interval '5 minutes', NULL, 0, 0
FROM src s,
     LATERAL (SELECT 1 + (s.q + s.part) % 4 AS calls,
                     (1 + (s.q + s.part) % 4) * (0.1 + sin(extract(epoch FROM s.bucket_start_time) + s.q + s.part) ^ 2) AS total,
                     0.1 + (sin(extract(epoch FROM s.bucket_start_time) + s.q + s.part) ^ 2) / 3 AS lo,
                     0.1 + sin(extract(epoch FROM s.bucket_start_time) + s.q + s.part) ^ 2 AS hi,
                     (s.q + s.part) % 4 * cos(s.q * s.part) ^ 2 / 7 AS sum_var) v;
SELECT count(*) AS rows, count(DISTINCT bucket_start_time) AS buckets
FROM pg_stat_monitor_entries;

-- what every view says, and the reports, before
CREATE TEMP TABLE before_history AS SELECT * FROM pg_stat_monitor_history;
CREATE TEMP TABLE before_data AS SELECT * FROM pg_stat_monitor_data;
REFRESH MATERIALIZED VIEW pgsm_recent;
CREATE TEMP TABLE before_view AS SELECT * FROM pgsm_recent;
CREATE TEMP TABLE keys AS
SELECT DISTINCT bucket, queryid FROM pg_stat_monitor_history
WHERE queryid IS NOT NULL AND bucket % 7 = 0;
CREATE TEMP TABLE before_hist AS
SELECT k.bucket, k.queryid, h.* FROM keys k, histogram(k.bucket, k.queryid) h;
CREATE FUNCTION reports() RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(
        pg_stat_monitor_report(pgsm_current_bucket_start() - interval '3 days',
                               pgsm_current_bucket_start())
        || pg_stat_monitor_report(pgsm_current_bucket_start() - interval '2 days',
                                  pgsm_current_bucket_start() - interval '1 day',
                                  'db1', 'user3')
        || pg_stat_monitor_diff_report(pgsm_current_bucket_start() - interval '3 days',
                                       pgsm_current_bucket_start() - interval '2 days',
                                       pgsm_current_bucket_start() - interval '2 days',
                                       pgsm_current_bucket_start() - interval '1 day'),
        '(Made in [0-9]+ ms)|(<th>made</th><td>[^<]*)', '', 'g'),
        -- what shared memory holds now is no history
        '<h2 id="health">.*?(<h2 |</body>)', '\1', 'g')
$$;
CREATE TEMP TABLE before_reports AS SELECT reports() AS r;
-- the rollups, from the detail alone before compaction, from the rollup
-- tables after: they add up to the detail they replace
CREATE TEMP TABLE before_rollups AS SELECT * FROM pg_stat_monitor_rollups;

-- A relation's rows as text, times rounded to the nanosecond: adding up
-- floating-point parts in another order (any change of plan or of the
-- order rows are read in does that) may change the last bits.
CREATE FUNCTION rows_of(rel regclass) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('SELECT ROW(%s)::text FROM %s',
        (SELECT string_agg(CASE WHEN a.atttypid = 'float8'::regtype
                                THEN format('round(%I::numeric, 6)', a.attname)
                                ELSE quote_ident(a.attname) END, ', ' ORDER BY a.attnum)
         FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped),
        rel);
END
$$;
CREATE FUNCTION differ(a regclass, b regclass) RETURNS int8 LANGUAGE sql AS $$
    SELECT count(*) FROM (
        (SELECT * FROM rows_of(a) EXCEPT ALL SELECT * FROM rows_of(b))
        UNION ALL
        (SELECT * FROM rows_of(b) EXCEPT ALL SELECT * FROM rows_of(a))) x
$$;
-- the same as the views say now (run before and after compaction)
CREATE FUNCTION differences() RETURNS TABLE (what text, n int8) LANGUAGE sql AS $$
    SELECT 'history', differ('before_history', 'pg_stat_monitor_history')
    UNION ALL
    SELECT 'data', differ('before_data', 'pg_stat_monitor_data')
    UNION ALL
    SELECT 'pgsm_recent', differ('before_view', 'pgsm_recent')
    UNION ALL
    SELECT 'histogram', count(*) FROM (
        (SELECT * FROM before_hist
         EXCEPT ALL
         SELECT k.bucket, k.queryid, h.* FROM keys k, histogram(k.bucket, k.queryid) h)
        UNION ALL
        (SELECT k.bucket, k.queryid, h.* FROM keys k, histogram(k.bucket, k.queryid) h
         EXCEPT ALL
         SELECT * FROM before_hist)) x
    UNION ALL
    SELECT 'reports', count(*) FROM before_reports WHERE r IS DISTINCT FROM reports()
    UNION ALL
    SELECT 'rollups', differ('before_rollups', 'pg_stat_monitor_rollups')
$$;
SELECT count(*) > 0 AS rows_in_view, (SELECT count(*) FROM before_hist) > 0 AS histograms
FROM before_view;
SELECT * FROM differences();

-- What a report reads, added up per statement: slots of four days from an
-- hour ("rollups": the whole hours the hourly rollups cover are read from
-- them) or from half past ("detail": all from entries and compact rows)
CREATE FUNCTION slot_sums(path text, since timestamptz, until timestamptz)
RETURNS TABLE (dbid oid, userid oid, queryid int8, planid int8, elevel int, sqlcode text,
               slots int8, calls float8, ms numeric, rows float8, io float8, wal float8,
               resp int8[], text_id int8, plan_text_id int8, message text)
LANGUAGE sql AS $$
    SELECT s.dbid, s.userid, s.queryid, s.planid, s.elevel, s.sqlcode, count(DISTINCT s.slot),
           sum(s.calls), round(sum(s.ms)::numeric, 6), sum(s.rows), sum(s.io), sum(s.wal),
           pgsm_sum(s.resp_calls), min(s.query_text_id), min(s.plan_text_id), max(s.message)
    FROM unnest(pgsm_report_slots(since, until,
                                  extract(epoch FROM pgsm_current_bucket_start() - interval '3 days')
                                      - CASE path WHEN 'rollups' THEN 0 ELSE 1800 END,
                                  4 * 86400, NULL, NULL, 3)) s
    GROUP BY 1, 2, 3, 4, 5, 6
$$;
-- a range from half past an hour to half past another, and one of whole hours
CREATE FUNCTION slot_ranges(OUT range text, OUT since timestamptz, OUT until timestamptz)
RETURNS SETOF record LANGUAGE sql AS $$
    VALUES ('half hours', pgsm_current_bucket_start() - interval '3 days' + interval '90 minutes',
            pgsm_current_bucket_start() - interval '30 minutes'),
           ('whole hours', pgsm_current_bucket_start() - interval '3 days' + interval '1 hour',
            pgsm_current_bucket_start() - interval '1 hour')
$$;
CREATE TEMP TABLE before_slots AS
SELECT r.range, s.* FROM slot_ranges() r, slot_sums('detail', r.since, r.until) s;
CREATE FUNCTION slot_differences() RETURNS TABLE (range text, path text, statements int8, n int8)
LANGUAGE sql AS $$
    SELECT r.range, p.path,
           (SELECT count(*) FROM slot_sums(p.path, r.since, r.until)),
           (SELECT count(*) FROM (
                (SELECT * FROM before_slots b WHERE b.range = r.range
                 EXCEPT ALL SELECT r.range, s.* FROM slot_sums(p.path, r.since, r.until) s)
                UNION ALL
                (SELECT r.range, s.* FROM slot_sums(p.path, r.since, r.until) s
                 EXCEPT ALL SELECT * FROM before_slots b WHERE b.range = r.range)) x)
    FROM slot_ranges() r, (VALUES ('detail'), ('rollups')) p(path)
    ORDER BY 1, 2
$$;
SELECT * FROM slot_differences();

-- compact every finished bucket: three days, six statements each
SELECT count(*) AS days, sum(entries) = (SELECT count(*) FROM src) AS all_entries,
       sum(compact_rows) AS compact_rows
FROM pg_stat_monitor_compact();
SELECT count(*) AS entries_left FROM pg_stat_monitor_entries;
SELECT count(*) AS compact_rows, sum(compact_rows) = (SELECT count(*) FROM src) AS all_rows,
       sum(cardinality(calls)) = sum(compact_rows) AS arrays_full
FROM pg_stat_monitor_compact;
REFRESH MATERIALIZED VIEW pgsm_recent;
SELECT * FROM differences();
-- a report's figures are the same read from compact rows or from rollups
SELECT * FROM slot_differences();
-- and the rollups are what is read: without the compact rows, the whole
-- hours are all there, the range of half hours lacks its last half hour
-- (read from compact rows) and the detail lacks everything
BEGIN;
DELETE FROM pg_stat_monitor_compact;
SELECT * FROM slot_differences();
ROLLBACK;

-- the rollups hold it all now, a row per statement and hour (here a
-- bucket) or day, and add up as history does
SELECT (SELECT count(*) FROM pg_stat_monitor_rollup_hour) AS hour_rows,
       (SELECT count(*) FROM pg_stat_monitor_rollup_day) AS day_rows,
       (SELECT count(*) FROM pg_stat_monitor_history) AS history_rows;
SELECT r.grain, count(*) AS periods,
       count(*) FILTER (WHERE r.calls = h.calls AND r.total = h.total
                          AND r.lo = h.lo AND r.hi = h.hi AND r.resp = h.resp) AS equal
FROM (SELECT grain, period_start, sum(calls) AS calls,
             round(sum(total_exec_time)::numeric, 6) AS total,
             round(min(min_exec_time)::numeric, 9) AS lo, round(max(max_exec_time)::numeric, 9) AS hi,
             pgsm_sum(resp_calls::int8[]) AS resp
      FROM pg_stat_monitor_rollups GROUP BY 1, 2) r
JOIN (SELECT g.grain, date_bin(g.stride, bucket_start_time, '1970-01-01 00:00:00+00') AS period_start,
             sum(calls) AS calls, round(sum(total_exec_time)::numeric, 6) AS total,
             round(min(min_exec_time)::numeric, 9) AS lo, round(max(max_exec_time)::numeric, 9) AS hi,
             pgsm_sum(resp_calls::int8[]) AS resp
      FROM pg_stat_monitor_history,
           (VALUES ('hour', interval '1 hour'), ('day', interval '1 day')) g(grain, stride)
      GROUP BY 1, 2) h USING (grain, period_start)
GROUP BY r.grain ORDER BY 1;

-- nothing more to compact
SELECT count(*) FROM pg_stat_monitor_compact();

-- a part exported late into a compacted bucket is read at once, and
-- joins its compact row at the next compaction
INSERT INTO pg_stat_monitor_entries
SELECT * FROM pgsm_history_rows ORDER BY bucket_start_time, queryid LIMIT 1;
-- (times rounded, as everywhere here: adding a part may change the order
-- in which a day's float8 sums are taken, and with it their last bits)
SELECT count(*) AS history_rows_changed FROM (
    SELECT * FROM rows_of('pg_stat_monitor_history')
    EXCEPT ALL SELECT * FROM rows_of('before_history')) x;
DROP TABLE before_history;
CREATE TEMP TABLE before_history AS SELECT * FROM pg_stat_monitor_history;
DROP TABLE before_data;
CREATE TEMP TABLE before_data AS SELECT * FROM pg_stat_monitor_data;
REFRESH MATERIALIZED VIEW pgsm_recent;
DROP TABLE before_view;
CREATE TEMP TABLE before_view AS SELECT * FROM pgsm_recent;
DROP TABLE before_hist;
CREATE TEMP TABLE before_hist AS
SELECT k.bucket, k.queryid, h.* FROM keys k, histogram(k.bucket, k.queryid) h;
DROP TABLE before_reports;
CREATE TEMP TABLE before_reports AS SELECT reports() AS r;
DROP TABLE before_rollups;
CREATE TEMP TABLE before_rollups AS SELECT * FROM pg_stat_monitor_rollups;
SELECT entries, compact_rows FROM pg_stat_monitor_compact();
SELECT count(*) AS compact_rows FROM pg_stat_monitor_compact;
REFRESH MATERIALIZED VIEW pgsm_recent;
SELECT * FROM differences();

-- too recent: nothing
SELECT count(*) FROM pg_stat_monitor_compact('100 years');

-- detail dropped by pgsm_retention before it was compacted is rolled up
-- first: a copy of a day's rows, in a partition that ended long ago
SELECT pgsm_ensure_partition('pg_stat_monitor_entries', pgsm_current_bucket_start() - interval '23 days');
INSERT INTO pg_stat_monitor_entries
SELECT (x.r).* FROM (
    SELECT jsonb_populate_record(h, jsonb_build_object('bucket_start_time',
               h.bucket_start_time - interval '20 days')) AS r
    FROM pgsm_history_rows h
    WHERE h.bucket_start_time < pgsm_current_bucket_start() - interval '2 days') x;
DROP TABLE before_rollups;
CREATE TEMP TABLE before_rollups AS SELECT * FROM pg_stat_monitor_rollups;
SELECT count(*) AS old_rows FROM pg_stat_monitor_entries;
SELECT pgsm_maintain_partitions();
SELECT count(*) AS old_rows FROM pg_stat_monitor_entries;
SELECT 'rollups' AS what, differ('before_rollups', 'pg_stat_monitor_rollups') AS n;

DROP EXTENSION pg_stat_monitor;
