-- Logical decoding history read back: the deltas of consecutive snapshots,
-- why a series starts again, per-second rates, and the advice with its
-- thresholds.  The snapshots are written here by hand, with figures chosen
-- so that every delta and rate can be checked by eye (TAP 050 and 051 take
-- real ones).
CREATE EXTENSION pg_stat_monitor;
SET TimeZone = 'UTC';
-- partitions for 2030-01-10 and 2030-01-11 in every history table
SELECT pgsm_maintain_partitions('2030-01-10 12:00+00');

-- Four snapshots, one a minute, 40 s apart in time taken: the second lost
-- nothing; before the third a slot's counters went down, a subscription was
-- dropped and created again under its name, and another was reset; the
-- fourth comes after the server lost its statistics (pg_stat_wal and
-- pg_stat_archiver reset at one moment).
INSERT INTO pg_stat_monitor_decoding_snapshots
    (bucket_start_time, taken_at, logical_decoding_work_mem,
     postmaster_start_time, wal_stats_reset, archiver_stats_reset)
VALUES ('2030-01-10 12:00', '2030-01-10 12:01:00', 65536, '2030-01-10 11:00', '2030-01-10 11:00', '2030-01-10 11:00:01'),
       ('2030-01-10 12:01', '2030-01-10 12:01:40', 65536, '2030-01-10 11:00', '2030-01-10 11:00', '2030-01-10 11:00:01'),
       ('2030-01-10 12:02', '2030-01-10 12:02:20', 65536, '2030-01-10 11:00', '2030-01-10 11:00', '2030-01-10 11:00:01'),
       ('2030-01-10 12:03', '2030-01-10 12:03:00', 131072, '2030-01-10 12:02:30', '2030-01-10 12:02:30', '2030-01-10 12:02:30');

INSERT INTO pg_stat_monitor_slot_history
    (bucket_start_time, slot_name, plugin, database, temporary, two_phase,
     spill_txns, spill_count, spill_bytes, stream_txns, stream_count,
     stream_bytes, total_txns, total_bytes, stats_reset)
VALUES ('2030-01-10 12:00', 'a', 'pgoutput', 'postgres', false, false, 1, 2, 1000, 0, 0, 0, 10, 5000, NULL),
       ('2030-01-10 12:01', 'a', 'pgoutput', 'postgres', false, false, 3, 8, 5000, 0, 0, 0, 20, 13000, NULL),
       ('2030-01-10 12:01', 'b', 'pgoutput', 'postgres', false, false, 0, 0, 0, 1, 4, 800, 2, 1000, NULL),
       ('2030-01-10 12:02', 'a', 'pgoutput', 'postgres', false, false, 3, 8, 4999, 0, 0, 0, 21, 13100, NULL),
       ('2030-01-10 12:02', 'b', 'pgoutput', 'postgres', false, false, 0, 0, 0, 2, 6, 1000, 4, 1600, NULL),
       ('2030-01-10 12:03', 'a', 'pgoutput', 'postgres', false, false, 0, 0, 0, 0, 0, 0, 1, 200, NULL),
       ('2030-01-10 12:03', 'b', 'pgoutput', 'postgres', false, false, 0, 0, 0, 0, 0, 0, 1, 100, NULL);

INSERT INTO pg_stat_monitor_subscription_history
    (bucket_start_time, subid, subname, enabled, streaming, sub_slot_name,
     apply_error_count, sync_error_count, stats_reset)
VALUES ('2030-01-10 12:00', 16001, 's1', true, 'off', 's1', 1, 0, NULL),
       ('2030-01-10 12:01', 16001, 's1', true, 'off', 's1', 5, 2, NULL),
       ('2030-01-10 12:01', 16002, 's2', true, 'on', 's2', 3, 0, NULL),
       ('2030-01-10 12:02', 16003, 's1', true, 'off', 's1', 1, 0, NULL),
       ('2030-01-10 12:02', 16002, 's2', true, 'on', 's2', 1, 0, '2030-01-10 12:01:50'),
       ('2030-01-10 12:03', 16003, 's1', true, 'off', 's1', 2, 1, NULL),
       ('2030-01-10 12:03', 16002, 's2', true, 'on', 's2', 0, 0, '2030-01-10 12:01:50');

-- deltas, with the reason a series starts again
SELECT bucket_start_time, slot_name, seconds, new_series,
       spill_txns, spill_count, spill_bytes, stream_txns, stream_count,
       stream_bytes, total_txns, total_bytes, logical_decoding_work_mem
FROM pg_stat_monitor_slot_deltas ORDER BY slot_name, bucket_start_time;

-- rates: the deltas divided by the seconds between the snapshots
SELECT bucket_start_time, slot_name, spill_bytes_per_sec, stream_bytes_per_sec,
       total_bytes_per_sec, spill_txns_per_sec, stream_txns_per_sec,
       total_txns_per_sec
FROM pg_stat_monitor_slot_deltas ORDER BY slot_name, bucket_start_time;

SELECT bucket_start_time, subid, subname, streaming, seconds, new_series,
       apply_error_count, sync_error_count, apply_errors_per_sec,
       sync_errors_per_sec
FROM pg_stat_monitor_subscription_deltas ORDER BY subid, bucket_start_time;

-- A re-created slot: other options, or a stats_reset gone back to NULL
INSERT INTO pg_stat_monitor_decoding_snapshots
    (bucket_start_time, taken_at, logical_decoding_work_mem,
     postmaster_start_time, wal_stats_reset, archiver_stats_reset)
VALUES ('2030-01-10 12:04', '2030-01-10 12:04:00', 65536, '2030-01-10 12:02:30', '2030-01-10 12:02:30', '2030-01-10 12:02:30'),
       ('2030-01-10 12:05', '2030-01-10 12:05:00', 65536, '2030-01-10 12:02:30', '2030-01-10 12:02:30', '2030-01-10 12:02:30'),
       ('2030-01-10 12:06', '2030-01-10 12:06:00', 65536, '2030-01-10 12:02:30', '2030-01-10 12:02:30', '2030-01-10 12:02:30');
INSERT INTO pg_stat_monitor_slot_history
    (bucket_start_time, slot_name, plugin, database, temporary, two_phase,
     spill_txns, spill_count, spill_bytes, stream_txns, stream_count,
     stream_bytes, total_txns, total_bytes, stats_reset)
VALUES ('2030-01-10 12:04', 'a', 'pgoutput', 'postgres', false, true, 0, 0, 0, 0, 0, 0, 5, 900, NULL),
       ('2030-01-10 12:04', 'b', 'pgoutput', 'postgres', false, false, 0, 0, 0, 0, 0, 0, 3, 300, '2030-01-10 12:03:30'),
       ('2030-01-10 12:05', 'a', 'pgoutput', 'postgres', false, true, 0, 0, 0, 0, 0, 0, 9, 1900, NULL),
       ('2030-01-10 12:05', 'b', 'pgoutput', 'postgres', false, false, 0, 0, 0, 0, 0, 0, 7, 700, NULL),
       ('2030-01-10 12:06', 'a', 'pgoutput', 'postgres', false, true, 0, 0, 0, 0, 0, 0, 9, 1900, NULL);
SELECT bucket_start_time, slot_name, new_series, total_txns, total_bytes
FROM pg_stat_monitor_slot_deltas
WHERE bucket_start_time >= '2030-01-10 12:04'
ORDER BY slot_name, bucket_start_time;

-- no delta is negative, whatever the counters did
SELECT count(*) AS negative
FROM pg_stat_monitor_slot_deltas
WHERE least(spill_txns, spill_count, spill_bytes, stream_txns, stream_count,
            stream_bytes, total_txns, total_bytes) < 0;

-- --- the advice ------------------------------------------------------------

-- On 2030-01-11, one snapshot every minute from 10:00, 60 s apart, with
-- these deltas per slot (the first snapshot only starts the series):
--   exact10    spills 10.0% of its bytes: the default threshold is reached
--   under10    spills 9.9%: no hint
--   streams    streams 25%: the streaming hint
--   both       spills 20% although it streams 5%: the hint for that case
--   over       spills more than it decodes in the window: capped at 100
--   nodecode   spills, decodes nothing in the window: 100
--   quiet      nothing at all
INSERT INTO pg_stat_monitor_decoding_snapshots
    (bucket_start_time, taken_at, logical_decoding_work_mem,
     postmaster_start_time, wal_stats_reset, archiver_stats_reset)
SELECT t, t + interval '1 minute', 65536, '2030-01-11', '2030-01-11', '2030-01-11 00:00:01'
FROM generate_series(timestamptz '2030-01-11 10:00', '2030-01-11 10:03', interval '1 minute') t;
INSERT INTO pg_stat_monitor_slot_history
    (bucket_start_time, slot_name, plugin, database, temporary, two_phase,
     spill_txns, spill_count, spill_bytes, stream_txns, stream_count,
     stream_bytes, total_txns, total_bytes, stats_reset)
SELECT '2030-01-11 10:00'::timestamptz + n * interval '1 minute', s.name,
       'pgoutput', 'postgres', false, false,
       n * s.spill_txns, n * s.spill_txns, n * s.spill_bytes,
       n * s.stream_txns, n * s.stream_txns, n * s.stream_bytes,
       n * s.total_txns, n * s.total_bytes, NULL
FROM generate_series(0, 3) n,
     (VALUES ('exact10', 1, 100, 0, 0, 4, 1000),
             ('under10', 1, 99, 0, 0, 4, 1000),
             ('streams', 0, 0, 2, 250, 4, 1000),
             ('both', 1, 200, 1, 50, 4, 1000),
             ('over', 1, 3000, 0, 0, 1, 1000),
             ('nodecode', 1, 500, 0, 0, 0, 0),
             ('quiet', 0, 0, 0, 0, 0, 0))
     AS s(name, spill_txns, spill_bytes, stream_txns, stream_bytes, total_txns, total_bytes);

-- the three buckets after the first: since is included, until is not
SELECT slot_name, buckets, seconds, total_txns, total_bytes, spill_txns,
       spill_bytes, stream_txns, stream_bytes, spilled_pct, streamed_pct,
       logical_decoding_work_mem
FROM pg_stat_monitor_decoding_advice('2030-01-11 10:01', '2030-01-11 10:04');
SELECT slot_name, hint
FROM pg_stat_monitor_decoding_advice('2030-01-11 10:01', '2030-01-11 10:04');

-- a higher threshold: only shares that reach it get a hint
SELECT slot_name, spilled_pct, streamed_pct, hint IS NOT NULL AS hinted
FROM pg_stat_monitor_decoding_advice('2030-01-11 10:01', '2030-01-11 10:04', 25);

-- a window of one bucket; and one of the day's first bucket, where these
-- slots appear (slot created, compared with yesterday's last snapshot):
-- their counters are still zero, so no share and no hint
SELECT slot_name, buckets, seconds, spill_bytes, total_bytes
FROM pg_stat_monitor_decoding_advice('2030-01-11 10:03', '2030-01-11 10:04')
WHERE slot_name = 'exact10';
SELECT slot_name, buckets, seconds, spilled_pct, hint
FROM pg_stat_monitor_decoding_advice('2030-01-11 10:00', '2030-01-11 10:01')
WHERE slot_name = 'exact10';

-- --- retention: the first snapshot kept has no earlier one ------------------

-- eight days later, the partitions of 2030-01-10 have ended more than seven
-- days before and are dropped; 2030-01-11's are kept, and their first
-- snapshot has nothing to compare with any more
SELECT pgsm_maintain_partitions('2030-01-18 12:00+00');
SELECT min(bucket_start_time) FROM pg_stat_monitor_decoding_snapshots;
SELECT bucket_start_time, slot_name, new_series, total_bytes, total_bytes_per_sec
FROM pg_stat_monitor_slot_deltas
WHERE slot_name = 'exact10' ORDER BY bucket_start_time;

DROP EXTENSION pg_stat_monitor;
