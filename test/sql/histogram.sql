-- The response-time histogram: resp_calls, range(), get_histogram_timings()
-- and histogram().  Defaults: 20 cells from 1 ms to 100000 ms, one below and
-- one above.
CREATE EXTENSION pg_stat_monitor;

SELECT get_histogram_timings();
SELECT array_length(range(), 1) AS cells, (range())[1] AS first,
       (range())[22] AS last;

SELECT pg_stat_monitor_reset();
SELECT pg_sleep(0.002);
SELECT pg_sleep(0.002);
SELECT pg_sleep(0.002);

-- one count per call; none of them below 2 ms
SELECT array_length(resp_calls, 1) AS cells, calls,
       (SELECT sum(c::int) FROM unnest(resp_calls) c) AS counted
FROM pg_stat_monitor_live WHERE query = 'SELECT pg_sleep($1)';

-- resp_calls lines up with range()
SELECT count(*) AS ranges, sum(h.freq::int) AS calls,
       coalesce(sum(h.freq::int) FILTER (WHERE split_part(h.range, ' - ', 2) <> '...'
                AND split_part(h.range, ' - ', 2)::float8 <= 2), 0) AS below_2ms
FROM pg_stat_monitor_live m, unnest(range(), m.resp_calls) AS h(range, freq)
WHERE m.query = 'SELECT pg_sleep($1)';

-- histogram() finds the bucket in shared memory (or in history, once exported)
SELECT count(*) AS ranges, sum(freq) AS calls,
       bool_and((freq > 0) = (bar <> '')) AS bars_match
FROM histogram((SELECT bucket FROM pg_stat_monitor_live
                WHERE query = 'SELECT pg_sleep($1)'),
               (SELECT queryid FROM pg_stat_monitor_live
                WHERE query = 'SELECT pg_sleep($1)'));

DROP EXTENSION pg_stat_monitor;
