# No background worker slot left for the refresh worker: the worker says so
# in the log, keeps exporting, and refreshes the materialized view at a
# later bucket, once a slot is free again.
#
# max_worker_processes = 3: the pg_stat_monitor worker holds one, and a
# parallel query holds the other two for as long as the test wants.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgsmTest;

my $node = pgsm_node('fallback', bucket_time => 2, conf => q(
max_worker_processes = 3
max_parallel_workers = 2
# no logical replication launcher: it would hold a slot of its own
max_logical_replication_workers = 0
# the view's window is long enough that no bucket leaves it during the test
pg_stat_monitor.pgsm_max_buckets = 200
));

# Not "SELECT 1 AS ..." as the marker before it: column names are no part
# of a query id, so in the same bucket both would be one entry, with the
# text of the first.
my $marker = 'SELECT $1 AS fallback_marker, $2 AS second_column';

# the view is refreshed while slots are free
$node->safe_psql('postgres', 'SELECT 1 AS before_marker');
ok( $node->poll_query_until('postgres', q(
	SELECT count(*) > 0 FROM pg_stat_monitor WHERE query = 'SELECT $1 AS before_marker')),
	'with a free slot, the view is refreshed');

# A table that two parallel workers scan slowly, one row at a time
$node->safe_psql('postgres', q(
	CREATE TABLE slow_scan (a int) WITH (parallel_workers = 2);
	INSERT INTO slow_scan SELECT generate_series(1, 10000);
	ANALYZE slow_scan;
	CREATE FUNCTION crawl(int) RETURNS bool LANGUAGE plpgsql PARALLEL SAFE
	AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN true; END $$;));

# Start the scan; it gets both free slots unless a refresh worker holds one
# at that moment, in which case it is tried again.
my $scan;
my $scan_pid;
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
while (1)
{
	$scan = $node->background_psql('postgres', on_error_stop => 0);
	$scan_pid = $scan->query_safe('SELECT pg_backend_pid()');
	$scan->query_safe(q(
		SET max_parallel_workers_per_gather = 2;
		SET parallel_setup_cost = 0;
		SET parallel_tuple_cost = 0;
		SET min_parallel_table_scan_size = 0;));
	$scan->query_until(qr/scan started/, q(
		\echo scan started
		SELECT count(*) FROM slow_scan WHERE crawl(a);
));
	$node->poll_query_until('postgres', qq(
		SELECT count(*) > 0 FROM pg_stat_activity
		WHERE pid = $scan_pid AND state = 'active' AND query LIKE '%crawl%'))
	  or die 'the scan did not start';
	# the workers are launched when the scan starts
	my $workers = 0;
	for (1 .. 50)
	{
		$workers = $node->safe_psql('postgres', qq(
			SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'parallel worker' AND leader_pid = $scan_pid));
		last if $workers == 2;
		usleep(100_000);
	}
	last if $workers == 2;
	die 'the scan never got two parallel workers' if time > $deadline;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($scan_pid)");
	$scan->quit;
}
pass('a parallel scan holds the two free worker slots');

# From now on no worker can start.  A statement recorded now is exported,
# and the refresh after its bucket cannot start.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'SELECT 1 AS fallback_marker, 2 AS second_column');
$node->wait_for_log(
	qr/LOG:  pg_stat_monitor worker could not start a worker to refresh pg_stat_monitor\n.*HINT:  Raise "max_worker_processes"; the refresh is tried again at the next bucket\./,
	$offset);
pass('the worker says it could not start a refresh worker, and what to do');

# the refresh failed after the bucket of the marker ended: export goes on
ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) > 0 FROM pg_stat_monitor_history WHERE query = '$marker')),
	'export goes on without a refresh worker');
is( $node->safe_psql('postgres', qq(
	SELECT count(*) FROM pg_stat_monitor WHERE query = '$marker')),
	'0', 'the view is not refreshed while no worker can start');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'parallel worker')),
	'2', 'the scan still holds both slots');

# The slots come free: the refresh is tried again, and succeeds.
$node->safe_psql('postgres', "SELECT pg_cancel_backend($scan_pid)");
$scan->quit;
ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) > 0 FROM pg_stat_monitor WHERE query = '$marker')),
	'once a slot is free, a later bucket refreshes the view');
is( $node->safe_psql('postgres', qq(
	SELECT (SELECT sum(calls) FROM pg_stat_monitor WHERE query = '$marker')
	     = (SELECT sum(calls) FROM pg_stat_monitor_history WHERE query = '$marker'))),
	't', 'the view shows what history has');
is($node->safe_psql('postgres', 'SELECT export_failures FROM pg_stat_monitor_info'),
	'0', 'no export failed');

$node->stop;
done_testing();
