-- The response-time histogram: resp_calls, range(), get_histogram_timings()
-- and histogram().  Defaults: 20 cells from 1 ms to 100000 ms, one below and
-- one above.  Each call must land in the cell its measured time belongs
-- to, never in one below the time it slept; rows are added up over
-- buckets, since a bucket may end in the middle of the test.
CREATE EXTENSION pg_stat_monitor;

SELECT get_histogram_timings();
SELECT array_length(range(), 1) AS cells, (range())[1] AS first,
       (range())[22] AS last;

-- the cells, as numbers: [lo, hi)
CREATE TEMP VIEW cells AS
SELECT i, split_part(r, ' - ', 1)::float8 AS lo,
       CASE WHEN split_part(r, ' - ', 2) = '...' THEN 'infinity'
            ELSE split_part(r, ' - ', 2) END::float8 AS hi
FROM unnest(range()) WITH ORDINALITY AS c(r, i);

SELECT pg_stat_monitor_reset();
SELECT pg_sleep(0.002);
SELECT pg_sleep(0.002);
SELECT pg_sleep(0.002);
-- single calls of known least length, each a statement of its own (of
-- its own shape, since the query id does not see aliases or constants)
SELECT 1 AS h0;
SELECT pg_sleep(0.002) IS NULL AS h2;
SELECT pg_sleep(0.02)::text AS h20;
SELECT 1 FROM pg_sleep(0.2) AS h200;

-- one count per call, none of them below 2 ms
SELECT sum(calls) AS calls,
       sum((SELECT sum(c::int) FROM unnest(resp_calls) c)) AS counted,
       sum((SELECT coalesce(sum(h.f::int), 0)
            FROM unnest(resp_calls) WITH ORDINALITY AS h(f, i) JOIN cells c USING (i)
            WHERE c.hi <= 2)) AS below_2ms,
       bool_and(array_length(resp_calls, 1) = 22) AS lines_up
FROM pg_stat_monitor_live WHERE query = 'SELECT pg_sleep($1)';

-- a single call: the one cell counted holds its time, and is not below
-- the time it slept
SELECT n.query, m.calls,
       (SELECT count(*) FROM unnest(m.resp_calls) c WHERE c::int > 0) AS cells_counted,
       (SELECT bool_and(c.lo <= m.total_exec_time AND m.total_exec_time < c.hi)
        FROM unnest(m.resp_calls) WITH ORDINALITY AS h(f, i) JOIN cells c USING (i)
        WHERE h.f::int > 0) AS in_its_cell,
       (SELECT bool_and(c.hi > n.ms)
        FROM unnest(m.resp_calls) WITH ORDINALITY AS h(f, i) JOIN cells c USING (i)
        WHERE h.f::int > 0) AS not_below_sleep
FROM (VALUES ('SELECT $1 AS h0', 0), ('SELECT pg_sleep($1) IS NULL AS h2', 2),
             ('SELECT pg_sleep($1)::text AS h20', 20),
             ('SELECT $1 FROM pg_sleep($2) AS h200', 200))
     AS n(query, ms)
LEFT JOIN pg_stat_monitor_live m USING (query)
ORDER BY n.ms;

-- histogram() finds the bucket in shared memory (or in history, once
-- exported), and shows the call in the same cell as resp_calls
SELECT count(*) AS ranges, sum(freq) AS calls,
       bool_and((freq > 0) = (bar <> '')) AS bars_match,
       bool_and((freq > 0) = (range = (SELECT (range())[i] FROM pg_stat_monitor_live m,
                                      unnest(m.resp_calls) WITH ORDINALITY AS h(f, i)
                                      WHERE m.query = 'SELECT $1 FROM pg_sleep($2) AS h200'
                                        AND h.f::int > 0))) AS same_cell
FROM histogram((SELECT bucket FROM pg_stat_monitor_live
                WHERE query = 'SELECT $1 FROM pg_sleep($2) AS h200'),
               (SELECT queryid FROM pg_stat_monitor_live
                WHERE query = 'SELECT $1 FROM pg_sleep($2) AS h200'));

DROP VIEW cells;
DROP EXTENSION pg_stat_monitor;
