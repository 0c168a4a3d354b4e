# The checks that end each phase of the plan this fork was built from
# (shared/seeds/000_*.txt), run as the plan writes them.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $node = pgsm_node('plan', bucket_time => 2,
	conf => "log_min_messages = debug1\n");

# Phase 1: its migration's settings as written (pgsm_max takes effect at a
# restart), then statistics reach the table
$node->safe_psql('postgres', q(
ALTER SYSTEM SET pg_stat_monitor.pgsm_max = '10MB';
ALTER SYSTEM SET pg_stat_monitor.pgsm_max_buckets = 2;
ALTER SYSTEM SET pg_stat_monitor.pgsm_query_shared_buffer = '1MB';
));
$node->restart;
is( $node->safe_psql('postgres', q(
	SELECT current_setting('pg_stat_monitor.pgsm_max') || ' ' ||
	       current_setting('pg_stat_monitor.pgsm_max_buckets') || ' ' ||
	       current_setting('pg_stat_monitor.pgsm_query_shared_buffer'))),
	'10MB 2 1MB', 'Phase 1: the settings are accepted as written');
# (a shape other than before_marker's below, which may run in the same
# bucket: with an alias alone for a difference, pg_stat_monitor_history
# would show the two as one row, under either text)
$node->safe_psql('postgres', 'SELECT 1, 2 AS plan_marker') for 1 .. 3;
ok(pgsm_wait_exported($node, 'SELECT $1, $2 AS plan_marker'),
	'statements are exported');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM pg_stat_monitor_data;'),
	'>', 0, 'Phase 1: SELECT count(*) FROM pg_stat_monitor_data');
my @rows = split /\n/, $node->safe_psql('postgres',
	'SELECT queryid, calls, total_time FROM pg_stat_monitor_data LIMIT 10;');
ok(@rows >= 1 && @rows <= 10 && !grep({ !/^-?\d+\|\d+\|[0-9.e+-]+$/ } @rows),
	'Phase 1: SELECT queryid, calls, total_time FROM pg_stat_monitor_data LIMIT 10');

# the plan's columns, with the plan's meanings: times are execution times
# in ms, bucket_id the bucket's number as pg_stat_monitor shows it
is( $node->safe_psql(
		'postgres', q{
	SELECT string_agg(c, ',' ORDER BY c) FROM unnest(ARRAY['bucket_id',
		'queryid', 'dbid', 'userid', 'calls', 'rows', 'total_time', 'mean_time',
		'min_time', 'max_time', 'shared_blks_hit', 'shared_blks_read',
		'exported_at']) c
	WHERE c NOT IN (SELECT column_name FROM information_schema.columns
	                WHERE table_name = 'pg_stat_monitor_data')}),
	'', 'pg_stat_monitor_data has every column of the plan');
is( $node->safe_psql(
		'postgres', q{
	SELECT bool_and(d.total_time = d.total_exec_time
	                AND d.min_time = d.min_exec_time
	                AND d.max_time = d.max_exec_time
	                AND d.mean_time = d.total_exec_time / d.calls
	                AND d.bucket_id = extract(epoch FROM d.bucket_start_time) / 2)
	FROM pg_stat_monitor_data d WHERE d.calls > 0}),
	't', 'its times are execution times in ms and bucket_id the bucket number');

# Phase 2: the materialized view, refreshed at each bucket, with the log
# lines the plan looks for (at DEBUG1)
ok( $node->poll_query_until('postgres',
		'SELECT count(*) > 0 FROM (SELECT * FROM pg_stat_monitor LIMIT 10) s'),
	'Phase 2: SELECT * FROM pg_stat_monitor LIMIT 10');
ok($node->wait_for_log(qr/pg_stat_monitor: exported \d+ entries from bucket \d+/),
	'Phase 2: "exported N entries from bucket B" is logged');
ok($node->wait_for_log(qr/pg_stat_monitor: refreshed materialized view/),
	'Phase 2: "refreshed materialized view" is logged');

# Phase 2, "test with different bucket timing": the new length takes
# effect at the end of the bucket in progress, the view is then refreshed
# once per 30 s bucket, and what was collected before and after keeps its
# calls and its time.
$node->safe_psql('postgres', 'SELECT 1 AS before_marker') for 1 .. 3;
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q(
ALTER SYSTEM SET pg_stat_monitor.pgsm_bucket_time = 30;  -- 30-second buckets
SELECT pg_reload_conf();
));
ok($node->wait_for_log(qr/pg_stat_monitor buckets last 30 s from (\S+ \S+) on/, $offset),
	'the worker takes the new length');
my ($switch) = slurp_file($node->logfile, $offset)
  =~ /pg_stat_monitor buckets last 30 s from (\S+ \S+) on/;
$node->poll_query_until('postgres', "SELECT now() >= '$switch'");
$node->safe_psql('postgres', 'SELECT 1 AS after_marker') for 1 .. 4;
ok(pgsm_wait_exported($node, 'SELECT $1 AS %_marker'),
	'statements before and after the change are exported');
is( $node->safe_psql('postgres', qq(
	SELECT string_agg(t.text || ' ' || c.calls || ' ' || c.ok, ', ' ORDER BY t.text)
	FROM (SELECT d.query_text_id, sum(d.calls) AS calls,
	             bool_and(CASE WHEN d.bucket_start_time < '$switch'
	                           THEN extract(epoch FROM d.bucket_start_time)::int8 % 2 = 0
	                                AND d.bucket = extract(epoch FROM d.bucket_start_time)::int8 / 2
	                           ELSE (extract(epoch FROM d.bucket_start_time)::int8 % 30 = 0
	                                 OR d.bucket_start_time = '$switch')
	                                AND d.bucket = extract(epoch FROM d.bucket_start_time)::int8 / 30
	                      END) AS ok
	      FROM pg_stat_monitor_data d GROUP BY d.query_text_id) c
	JOIN pg_stat_monitor_texts t ON t.text_id = c.query_text_id
	WHERE t.text IN ('SELECT \$1 AS before_marker', 'SELECT \$1 AS after_marker'))),
	'SELECT $1 AS after_marker 4 true, SELECT $1 AS before_marker 3 true',
	'each keeps its calls, in buckets of the length in force when it ran');

# histogram() finds a bucket of the old length by its number too
is( $node->safe_psql('postgres', q(
	SELECT bool_and(h.calls = (SELECT sum(freq) FROM histogram(h.bucket, h.queryid)))
	FROM pg_stat_monitor_history h
	WHERE h.query IN ('SELECT $1 AS before_marker', 'SELECT $1 AS after_marker'))),
	't', 'histogram() reads buckets of either length');

# two refreshes after the change, each in a 30 s bucket of its own
$offset = -s $node->logfile;
ok($node->wait_for_log(
		qr/refreshed materialized view.*\n(.*\n)*.*refreshed materialized view/,
		$offset),
	'the view is refreshed twice more');
my @refreshed = map { /^(\S+ \S+ \S+)/ ? $1 : () }
  grep { /refreshed materialized view/ } split /\n/, slurp_file($node->logfile, $offset);
my $windows = $node->safe_psql('postgres', "SELECT count(DISTINCT floor(extract(epoch FROM t) / 30)) FROM unnest('{"
	  . join(',', map { "\"$_\"" } @refreshed) . "}'::timestamptz[]) t");
is($windows, scalar @refreshed, 'no two refreshes in one 30 s bucket');

# Phase 3: the settings as the plan writes them, then its memory check
$node->safe_psql('postgres', q(
ALTER SYSTEM SET pg_stat_monitor.pgsm_max = '1MB';
ALTER SYSTEM SET pg_stat_monitor.pgsm_max_buckets = 1;
ALTER SYSTEM SET pg_stat_monitor.pgsm_query_shared_buffer = '100kB';
));
$node->restart;
my $size = $node->safe_psql('postgres', q(
	SELECT sum(size) FROM pg_shmem_allocations WHERE name LIKE '%pg_stat_monitor%'));
note "Phase 3: pg_stat_monitor's shared memory is $size bytes";
ok($size >= 1024 * 1024 && $size <= 3 * 1024 * 1024,
	'Phase 3: pg_shmem_allocations shows 1-3 MB');

$node->stop;
done_testing();
