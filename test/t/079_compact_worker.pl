# The compaction worker runs on its own: with pgsm_compact_after 0, the
# worker's partition upkeep (at its first cycle after a start, then every
# few minutes) starts "pg_stat_monitor compact", which moves every finished
# bucket into pg_stat_monitor_compact and adds it to the rollups; the views
# give the same answers as before.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $node = pgsm_node('compactw', bucket_time => 2,
	conf => "pg_stat_monitor.pgsm_compact_after = 0\n");

# a few statements over several buckets, exported
$node->safe_psql('postgres', 'CREATE TABLE w (a int)');
for my $i (1 .. 4)
{
	$node->safe_psql('postgres',
		"INSERT INTO w SELECT g FROM generate_series(1, $i) g; SELECT count(*) FROM w WHERE a > $i");
	sleep 1;
}
ok(pgsm_wait_exported($node, '%FROM w%'), 'the statements are exported');

# what the views say of them now, rounded as parts added up in another
# order may differ in the last bits
my $views = q(
	SELECT bucket_start_time, queryid, query, calls, rows,
	       round(total_exec_time::numeric, 6) AS total, round(min_exec_time::numeric, 9) AS lo,
	       round(max_exec_time::numeric, 9) AS hi, round(stddev_exec_time::numeric, 6) AS sd,
	       resp_calls, shared_blks_hit
	FROM pg_stat_monitor_history
	WHERE query LIKE '%FROM w%');
$node->safe_psql('postgres', "CREATE TABLE before AS $views");
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM before');
cmp_ok($rows, '>', 0, 'history has the statements');

# every bucket of them finished before the restart, so that the compaction
# that follows it takes them all (a fast machine restarts within the last
# one's two seconds)
ok( $node->poll_query_until('postgres',
		'SELECT pgsm_current_bucket_start() > (SELECT max(bucket_start_time) FROM before)'),
	'the last bucket of the statements has ended');

# the worker's first cycle after a start looks after the partitions, then
# starts the compaction worker (which may have compacted some of them
# already, at its first cycle after CREATE EXTENSION); nothing else
# compacts here
$node->restart;
ok( $node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) > 0 FROM pg_stat_monitor_compact
	        WHERE queryid IN (SELECT queryid FROM before))
	   AND NOT EXISTS (SELECT FROM pg_stat_monitor_entries e
	                   WHERE e.bucket_start_time <= (SELECT max(bucket_start_time) FROM before)
	                     AND e.queryid IN (SELECT queryid FROM before))}),
	'the compaction worker moved the finished buckets into the compact form');

is( $node->safe_psql('postgres', qq(
	SELECT count(*) FROM (
	    (SELECT * FROM before EXCEPT ALL
	     SELECT * FROM ($views) v WHERE bucket_start_time <= (SELECT max(bucket_start_time) FROM before))
	    UNION ALL
	    (SELECT * FROM ($views) v WHERE bucket_start_time <= (SELECT max(bucket_start_time) FROM before)
	     EXCEPT ALL SELECT * FROM before)) x)),
	'0', 'pg_stat_monitor_history gives the same answers from the compact form');

# the rows moved were added to the rollups, which add up to them
is( $node->safe_psql('postgres', q(
	SELECT (SELECT sum(calls) FROM pg_stat_monitor_rollup_hour
	        WHERE queryid IN (SELECT queryid FROM before))
	     = (SELECT sum(calls) FROM before)
	   AND (SELECT sum(calls) FROM pg_stat_monitor_rollup_day
	        WHERE queryid IN (SELECT queryid FROM before))
	     = (SELECT sum(calls) FROM before))),
	't', 'the hourly and daily rollups hold the calls compacted');

$node->stop;
done_testing();
