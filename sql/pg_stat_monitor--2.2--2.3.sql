/* pg_stat_monitor--2.2--2.3.sql: history of logical decoding statistics */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_stat_monitor UPDATE TO '2.3'" to load this file. \quit

/*
 * pg_stat_replication_slots and pg_stat_subscription_stats only show running
 * totals since the last reset, and crash recovery throws them away.  At every
 * bucket boundary the background worker calls pgsm_snapshot_decoding(), which
 * copies both views into the three history tables below; the *_deltas views
 * turn consecutive snapshots into per-bucket deltas and per-second rates, and
 * pg_stat_monitor_decoding_advice() sums them over a window.
 *
 * The tables are RANGE-partitioned on bucket_start_time like
 * pg_stat_monitor_data, so pgsm_maintain_partitions() creates and drops
 * their partitions with the same span and retention.
 */

-- One row per snapshot: when it was taken and what could explain a jump
CREATE TABLE @extschema@.pg_stat_monitor_decoding_snapshots (
    bucket_start_time timestamptz NOT NULL,
    taken_at timestamptz NOT NULL,
    logical_decoding_work_mem int8 NOT NULL,
    postmaster_start_time timestamptz,
    wal_stats_reset timestamptz,
    archiver_stats_reset timestamptz,
    PRIMARY KEY (bucket_start_time)
) PARTITION BY RANGE (bucket_start_time);

COMMENT ON TABLE @extschema@.pg_stat_monitor_decoding_snapshots IS
    'One row per snapshot of the logical decoding statistics, taken at the end of the bucket that starts at bucket_start_time';
COMMENT ON COLUMN @extschema@.pg_stat_monitor_decoding_snapshots.logical_decoding_work_mem IS
    'logical_decoding_work_mem in force when the snapshot was taken, in bytes';
COMMENT ON COLUMN @extschema@.pg_stat_monitor_decoding_snapshots.wal_stats_reset IS
    'stats_reset of pg_stat_wal; equal to archiver_stats_reset after the server lost its statistics (crash recovery, immediate shutdown)';

-- One row per logical replication slot and snapshot: pg_stat_replication_slots
-- as it was, with what tells a re-created slot from the old one
CREATE TABLE @extschema@.pg_stat_monitor_slot_history (
    bucket_start_time timestamptz NOT NULL,
    slot_name name NOT NULL,
    plugin name,
    database name,
    temporary boolean,
    two_phase boolean,
    spill_txns int8 NOT NULL,
    spill_count int8 NOT NULL,
    spill_bytes int8 NOT NULL,
    stream_txns int8 NOT NULL,
    stream_count int8 NOT NULL,
    stream_bytes int8 NOT NULL,
    total_txns int8 NOT NULL,
    total_bytes int8 NOT NULL,
    stats_reset timestamptz,
    PRIMARY KEY (bucket_start_time, slot_name)
) PARTITION BY RANGE (bucket_start_time);

COMMENT ON TABLE @extschema@.pg_stat_monitor_slot_history IS
    'pg_stat_replication_slots at the end of each bucket: running totals, see pg_stat_monitor_slot_deltas for what happened in each bucket';

-- One row per subscription and snapshot: pg_stat_subscription_stats as it was
CREATE TABLE @extschema@.pg_stat_monitor_subscription_history (
    bucket_start_time timestamptz NOT NULL,
    subid oid NOT NULL,
    subname name NOT NULL,
    enabled boolean,
    streaming text,
    sub_slot_name name,
    apply_error_count int8 NOT NULL,
    sync_error_count int8 NOT NULL,
    stats_reset timestamptz,
    PRIMARY KEY (bucket_start_time, subid)
) PARTITION BY RANGE (bucket_start_time);

COMMENT ON TABLE @extschema@.pg_stat_monitor_subscription_history IS
    'pg_stat_subscription_stats at the end of each bucket, with the subscription''s streaming option and slot';

/*
 * Take one snapshot, for the bucket that starts at bucket_start (the worker
 * passes the start of the bucket that has just ended).
 *
 * Cheap, and quiet on a server with no slots or subscriptions.  Does nothing
 * on a standby, for a bucket already recorded (a retry), or for a bucket
 * older than the newest one recorded: deltas are taken between consecutive
 * snapshots, which must therefore be in the order they were taken.
 */
CREATE FUNCTION @extschema@.pgsm_snapshot_decoding(bucket_start timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF bucket_start IS NULL OR pg_is_in_recovery() THEN
        RETURN;
    END IF;

    PERFORM @extschema@.pgsm_ensure_partition(t, bucket_start)
    FROM unnest(ARRAY['@extschema@.pg_stat_monitor_decoding_snapshots',
                      '@extschema@.pg_stat_monitor_slot_history',
                      '@extschema@.pg_stat_monitor_subscription_history']::regclass[]) AS t;

    -- one snapshot at a time; readers are not blocked
    LOCK TABLE ONLY @extschema@.pg_stat_monitor_decoding_snapshots
        IN SHARE ROW EXCLUSIVE MODE;

    IF EXISTS (SELECT 1 FROM @extschema@.pg_stat_monitor_decoding_snapshots
               WHERE bucket_start_time >= bucket_start) THEN
        RETURN;
    END IF;

    INSERT INTO @extschema@.pg_stat_monitor_decoding_snapshots
        (bucket_start_time, taken_at, logical_decoding_work_mem,
         postmaster_start_time, wal_stats_reset, archiver_stats_reset)
    SELECT bucket_start, clock_timestamp(),
           pg_size_bytes(current_setting('logical_decoding_work_mem')),
           pg_postmaster_start_time(), w.stats_reset, a.stats_reset
    FROM pg_stat_wal w, pg_stat_archiver a
    ON CONFLICT DO NOTHING;

    INSERT INTO @extschema@.pg_stat_monitor_slot_history
        (bucket_start_time, slot_name, plugin, database, temporary, two_phase,
         spill_txns, spill_count, spill_bytes, stream_txns, stream_count,
         stream_bytes, total_txns, total_bytes, stats_reset)
    SELECT bucket_start, s.slot_name, r.plugin, r.database, r.temporary,
           r.two_phase, s.spill_txns, s.spill_count, s.spill_bytes,
           s.stream_txns, s.stream_count, s.stream_bytes, s.total_txns,
           s.total_bytes, s.stats_reset
    FROM pg_stat_replication_slots s
         LEFT JOIN pg_replication_slots r ON r.slot_name = s.slot_name
    ON CONFLICT DO NOTHING;

    INSERT INTO @extschema@.pg_stat_monitor_subscription_history
        (bucket_start_time, subid, subname, enabled, streaming, sub_slot_name,
         apply_error_count, sync_error_count, stats_reset)
    SELECT bucket_start, s.subid, s.subname, p.subenabled, p.substream::text,
           p.subslotname, s.apply_error_count, s.sync_error_count,
           s.stats_reset
    FROM pg_stat_subscription_stats s
         LEFT JOIN pg_subscription p ON p.oid = s.subid
    ON CONFLICT DO NOTHING;
END
$$;

COMMENT ON FUNCTION @extschema@.pgsm_snapshot_decoding(timestamptz) IS
    'Copies pg_stat_replication_slots and pg_stat_subscription_stats into the history tables; called by the worker at each bucket boundary';

/*
 * What each slot did in each bucket.  A row compares a snapshot with the one
 * just before it.  The counters start a new series (new_series says why)
 * when that earlier snapshot lacks the slot, when the server lost its
 * statistics in between, when the slot's plugin, database or options differ
 * or its stats_reset went back to NULL (a new slot has none), when
 * stats_reset changed otherwise, or when any counter went down.  All of these
 * mean the counters restarted from zero after the earlier snapshot, so the
 * delta of such a row is the counters themselves: never negative, and never
 * more than what happened in the bucket.  With no earlier snapshot at all,
 * the deltas are NULL.
 */
CREATE VIEW @extschema@.pg_stat_monitor_slot_deltas AS
SELECT c.bucket_start_time,
       c.slot_name,
       p.taken_at AS interval_start,
       s.taken_at AS interval_end,
       extract(epoch FROM s.taken_at - p.taken_at) AS seconds,
       r.new_series,
       d.spill_txns, d.spill_count, d.spill_bytes,
       d.stream_txns, d.stream_count, d.stream_bytes,
       d.total_txns, d.total_bytes,
       round(d.spill_bytes / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 2)
           AS spill_bytes_per_sec,
       round(d.stream_bytes / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 2)
           AS stream_bytes_per_sec,
       round(d.total_bytes / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 2)
           AS total_bytes_per_sec,
       round(d.spill_txns / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS spill_txns_per_sec,
       round(d.stream_txns / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS stream_txns_per_sec,
       round(d.total_txns / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS total_txns_per_sec,
       s.logical_decoding_work_mem
FROM @extschema@.pg_stat_monitor_slot_history c
     JOIN @extschema@.pg_stat_monitor_decoding_snapshots s
         ON s.bucket_start_time = c.bucket_start_time
     LEFT JOIN LATERAL (
         SELECT e.bucket_start_time, e.taken_at
         FROM @extschema@.pg_stat_monitor_decoding_snapshots e
         WHERE e.bucket_start_time < s.bucket_start_time
         ORDER BY e.bucket_start_time DESC
         LIMIT 1) p ON true
     LEFT JOIN @extschema@.pg_stat_monitor_slot_history o
         ON o.bucket_start_time = p.bucket_start_time
        AND o.slot_name = c.slot_name
     CROSS JOIN LATERAL (
         SELECT CASE
             WHEN p.bucket_start_time IS NULL THEN 'no earlier snapshot'
             WHEN o.slot_name IS NULL THEN 'slot created'
             WHEN s.wal_stats_reset = s.archiver_stats_reset
                  AND s.wal_stats_reset > p.taken_at THEN 'statistics lost'
             WHEN (c.plugin, c.database, c.temporary, c.two_phase)
                  IS DISTINCT FROM (o.plugin, o.database, o.temporary, o.two_phase)
                  OR (c.stats_reset IS NULL AND o.stats_reset IS NOT NULL)
                 THEN 'slot re-created'
             WHEN c.stats_reset IS DISTINCT FROM o.stats_reset THEN 'statistics reset'
             WHEN c.spill_txns < o.spill_txns OR c.spill_count < o.spill_count
                  OR c.spill_bytes < o.spill_bytes OR c.stream_txns < o.stream_txns
                  OR c.stream_count < o.stream_count OR c.stream_bytes < o.stream_bytes
                  OR c.total_txns < o.total_txns OR c.total_bytes < o.total_bytes
                 THEN 'counters went down'
         END AS new_series) r
     CROSS JOIN LATERAL (
         SELECT CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.spill_txns - o.spill_txns
                     ELSE c.spill_txns END AS spill_txns,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.spill_count - o.spill_count
                     ELSE c.spill_count END AS spill_count,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.spill_bytes - o.spill_bytes
                     ELSE c.spill_bytes END AS spill_bytes,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.stream_txns - o.stream_txns
                     ELSE c.stream_txns END AS stream_txns,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.stream_count - o.stream_count
                     ELSE c.stream_count END AS stream_count,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.stream_bytes - o.stream_bytes
                     ELSE c.stream_bytes END AS stream_bytes,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.total_txns - o.total_txns
                     ELSE c.total_txns END AS total_txns,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.total_bytes - o.total_bytes
                     ELSE c.total_bytes END AS total_bytes) d;

COMMENT ON VIEW @extschema@.pg_stat_monitor_slot_deltas IS
    'What each logical replication slot decoded, spilled and streamed in each bucket, with per-second rates';

-- What each subscription's workers did in each bucket, by the same rules
CREATE VIEW @extschema@.pg_stat_monitor_subscription_deltas AS
SELECT c.bucket_start_time,
       c.subid,
       c.subname,
       c.streaming,
       c.sub_slot_name,
       p.taken_at AS interval_start,
       s.taken_at AS interval_end,
       extract(epoch FROM s.taken_at - p.taken_at) AS seconds,
       r.new_series,
       d.apply_error_count,
       d.sync_error_count,
       round(d.apply_error_count / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS apply_errors_per_sec,
       round(d.sync_error_count / nullif(extract(epoch FROM s.taken_at - p.taken_at), 0), 4)
           AS sync_errors_per_sec
FROM @extschema@.pg_stat_monitor_subscription_history c
     JOIN @extschema@.pg_stat_monitor_decoding_snapshots s
         ON s.bucket_start_time = c.bucket_start_time
     LEFT JOIN LATERAL (
         SELECT e.bucket_start_time, e.taken_at
         FROM @extschema@.pg_stat_monitor_decoding_snapshots e
         WHERE e.bucket_start_time < s.bucket_start_time
         ORDER BY e.bucket_start_time DESC
         LIMIT 1) p ON true
     LEFT JOIN @extschema@.pg_stat_monitor_subscription_history o
         ON o.bucket_start_time = p.bucket_start_time
        AND o.subid = c.subid
     CROSS JOIN LATERAL (
         SELECT CASE
             WHEN p.bucket_start_time IS NULL THEN 'no earlier snapshot'
             WHEN o.subid IS NULL THEN 'subscription created'
             WHEN s.wal_stats_reset = s.archiver_stats_reset
                  AND s.wal_stats_reset > p.taken_at THEN 'statistics lost'
             WHEN c.stats_reset IS DISTINCT FROM o.stats_reset THEN 'statistics reset'
             WHEN c.apply_error_count < o.apply_error_count
                  OR c.sync_error_count < o.sync_error_count
                 THEN 'counters went down'
         END AS new_series) r
     CROSS JOIN LATERAL (
         SELECT CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.apply_error_count - o.apply_error_count
                     ELSE c.apply_error_count END AS apply_error_count,
                CASE WHEN p.bucket_start_time IS NULL THEN NULL
                     WHEN r.new_series IS NULL THEN c.sync_error_count - o.sync_error_count
                     ELSE c.sync_error_count END AS sync_error_count) d;

COMMENT ON VIEW @extschema@.pg_stat_monitor_subscription_deltas IS
    'Apply and table synchronization errors of each subscription in each bucket, with per-second rates';

/*
 * Per slot, over the buckets that start in [since, until): how much was
 * decoded, what share of it spilled to disk or was streamed before commit,
 * and, where a share reaches min_share_pct, a hint in plain words.
 *
 * Spilling is counted when it happens and decoding at commit, so a window
 * that cuts a large transaction in two can see more spilled than decoded;
 * the shares are capped at 100.
 */
CREATE FUNCTION @extschema@.pg_stat_monitor_decoding_advice(
    since timestamptz DEFAULT now() - interval '1 hour',
    until timestamptz DEFAULT now(),
    min_share_pct numeric DEFAULT 10,
    OUT slot_name name,
    OUT buckets int8,
    OUT seconds numeric,
    OUT total_txns numeric,
    OUT total_bytes numeric,
    OUT spill_txns numeric,
    OUT spill_count numeric,
    OUT spill_bytes numeric,
    OUT stream_txns numeric,
    OUT stream_count numeric,
    OUT stream_bytes numeric,
    OUT spilled_pct numeric,
    OUT streamed_pct numeric,
    OUT logical_decoding_work_mem text,
    OUT hint text)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$
SELECT a.slot_name, a.buckets, a.seconds,
       a.total_txns, a.total_bytes, a.spill_txns, a.spill_count, a.spill_bytes,
       a.stream_txns, a.stream_count, a.stream_bytes,
       sh.spilled_pct, sh.streamed_pct,
       pg_size_pretty(a.work_mem),
       CASE
           WHEN sh.spilled_pct >= min_share_pct AND a.stream_txns = 0 THEN
               format('%s%% of the bytes decoded for this slot were spilled to disk (%s in %s transaction%s). '
                      'Raise logical_decoding_work_mem (%s) above the size of the largest transactions, '
                      'or, if a subscription reads this slot, set streaming = on for it.',
                      sh.spilled_pct, pg_size_pretty(a.spill_bytes), a.spill_txns,
                      CASE WHEN a.spill_txns = 1 THEN '' ELSE 's' END,
                      pg_size_pretty(a.work_mem))
           WHEN sh.spilled_pct >= min_share_pct THEN
               format('%s%% of the bytes decoded for this slot were spilled to disk (%s in %s transaction%s), '
                      'although the slot streams large transactions. '
                      'Raise logical_decoding_work_mem (%s) above the size of the largest transactions.',
                      sh.spilled_pct, pg_size_pretty(a.spill_bytes), a.spill_txns,
                      CASE WHEN a.spill_txns = 1 THEN '' ELSE 's' END,
                      pg_size_pretty(a.work_mem))
           WHEN sh.streamed_pct >= min_share_pct THEN
               format('%s%% of the bytes decoded for this slot were streamed before commit (%s in %s transaction%s). '
                      'That is what streaming = on is for; if the subscriber applies them slowly and the publisher '
                      'has memory to spare, raise logical_decoding_work_mem (%s).',
                      sh.streamed_pct, pg_size_pretty(a.stream_bytes), a.stream_txns,
                      CASE WHEN a.stream_txns = 1 THEN '' ELSE 's' END,
                      pg_size_pretty(a.work_mem))
       END
FROM (SELECT d.slot_name,
             count(d.total_bytes) AS buckets,
             coalesce(sum(d.seconds) FILTER (WHERE d.total_bytes IS NOT NULL), 0) AS seconds,
             coalesce(sum(d.total_txns), 0) AS total_txns,
             coalesce(sum(d.total_bytes), 0) AS total_bytes,
             coalesce(sum(d.spill_txns), 0) AS spill_txns,
             coalesce(sum(d.spill_count), 0) AS spill_count,
             coalesce(sum(d.spill_bytes), 0) AS spill_bytes,
             coalesce(sum(d.stream_txns), 0) AS stream_txns,
             coalesce(sum(d.stream_count), 0) AS stream_count,
             coalesce(sum(d.stream_bytes), 0) AS stream_bytes,
             (array_agg(d.logical_decoding_work_mem
                        ORDER BY d.bucket_start_time DESC))[1] AS work_mem
      FROM @extschema@.pg_stat_monitor_slot_deltas d
      WHERE d.bucket_start_time >= since AND d.bucket_start_time < until
      GROUP BY d.slot_name) a
     CROSS JOIN LATERAL (
         SELECT CASE WHEN a.spill_bytes = 0 THEN 0
                     ELSE coalesce(least(100, round(100 * a.spill_bytes / nullif(a.total_bytes, 0), 1)), 100)
                END AS spilled_pct,
                CASE WHEN a.stream_bytes = 0 THEN 0
                     ELSE coalesce(least(100, round(100 * a.stream_bytes / nullif(a.total_bytes, 0), 1)), 100)
                END AS streamed_pct) sh
ORDER BY a.slot_name
$$;

COMMENT ON FUNCTION @extschema@.pg_stat_monitor_decoding_advice(timestamptz, timestamptz, numeric) IS
    'Per slot, the share of decoded bytes that spilled or streamed in a window, with a hint where it is high';

CREATE VIEW @extschema@.pg_stat_monitor_decoding_advice AS
    SELECT * FROM @extschema@.pg_stat_monitor_decoding_advice();

COMMENT ON VIEW @extschema@.pg_stat_monitor_decoding_advice IS
    'pg_stat_monitor_decoding_advice() over the last hour';

-- Like the other history: superusers and pg_read_all_stats only
REVOKE ALL ON @extschema@.pg_stat_monitor_decoding_snapshots,
              @extschema@.pg_stat_monitor_slot_history,
              @extschema@.pg_stat_monitor_subscription_history,
              @extschema@.pg_stat_monitor_slot_deltas,
              @extschema@.pg_stat_monitor_subscription_deltas,
              @extschema@.pg_stat_monitor_decoding_advice
    FROM PUBLIC;
GRANT SELECT ON @extschema@.pg_stat_monitor_decoding_snapshots,
                @extschema@.pg_stat_monitor_slot_history,
                @extschema@.pg_stat_monitor_subscription_history,
                @extschema@.pg_stat_monitor_slot_deltas,
                @extschema@.pg_stat_monitor_subscription_deltas,
                @extschema@.pg_stat_monitor_decoding_advice
    TO pg_read_all_stats;

REVOKE ALL ON FUNCTION @extschema@.pgsm_snapshot_decoding(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pg_stat_monitor_decoding_advice(timestamptz, timestamptz, numeric)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.pg_stat_monitor_decoding_advice(timestamptz, timestamptz, numeric)
    TO pg_read_all_stats;
