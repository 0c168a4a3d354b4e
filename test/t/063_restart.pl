# A clean restart loses nothing: what was not exported is saved at
# shutdown and exported after start, even a batch that was being written.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

# long buckets: nothing is exported before the restart unless asked
my $node = pgsm_node('restart', bucket_time => 3600);

# The markers may share a bucket, so each has a shape of its own: an alias
# is no part of a query id, and markers of one shape in one bucket would be
# one entry (and one row of history's views) under the first one's text.
$node->safe_psql('postgres', 'SELECT 1 AS restart_marker') for 1 .. 7;
$node->restart;
ok(pgsm_wait_exported($node, 'SELECT $1 AS restart_marker'),
	'saved statistics are exported after the restart');
is(pgsm_history_calls($node, 'SELECT $1 AS restart_marker'), '7',
	'a clean restart loses nothing');

# a restart while a batch waits on a locked table
my $locker = pgsm_lock_history($node);
$node->safe_psql('postgres', 'SELECT 1, 2 AS frozen_marker') for 1 .. 5;
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('postgres', q(
	SELECT wait_event_type = 'Lock' FROM pg_stat_activity
	WHERE backend_type = 'pg_stat_monitor')),
	'a batch is being written');
$node->restart;
$locker->quit;
ok(pgsm_wait_exported($node, 'SELECT $1, $2 AS frozen_marker'),
	'the batch is exported after the restart');
is(pgsm_history_calls($node, 'SELECT $1, $2 AS frozen_marker'), '5',
	'the batch is written once');
is(pgsm_history_calls($node, 'SELECT $1 AS restart_marker'), '7',
	'earlier statistics are not written again');

# with export off, the live store itself survives a restart
$node->append_conf('postgresql.conf',
	'pg_stat_monitor.pgsm_enable_table_export = off');
$node->restart;
$node->safe_psql('postgres', 'SELECT 1, 2, 3 AS live_marker') for 1 .. 3;
$node->restart;
is( $node->safe_psql('postgres',
	"SELECT sum(calls) FROM pg_stat_monitor_live WHERE query = 'SELECT \$1, \$2, \$3 AS live_marker'"),
	'3', 'the live store survives a clean restart');

# saved under one bucket length, restored under another: each entry keeps
# the time it was collected
# (export is still off; the window keeps those buckets however slow the
# machine is)
$node->append_conf('postgresql.conf', qq(
pg_stat_monitor.pgsm_bucket_time = 1
pg_stat_monitor.pgsm_max_buckets = 20000));
$node->restart;
my $before = $node->safe_psql('postgres', 'SELECT now()');
$node->safe_psql('postgres', 'SELECT 1, 2, 3, 4 AS length_marker') for 1 .. 4;
my $after = $node->safe_psql('postgres', 'SELECT now()');
$node->append_conf('postgresql.conf', qq(
pg_stat_monitor.pgsm_bucket_time = 60
pg_stat_monitor.pgsm_enable_table_export = on));
$node->restart;
ok(pgsm_wait_exported($node, 'SELECT $1, $2, $3, $4 AS length_marker'),
	'statistics saved under another bucket length are exported');
is( $node->safe_psql('postgres', qq(
	SELECT sum(d.calls) || ' ' || bool_and(d.bucket_start_time
	           BETWEEN date_trunc('second', '$before'::timestamptz) AND '$after')
	           || ' ' || bool_and(d.bucket = extract(epoch FROM d.bucket_start_time))
	FROM pg_stat_monitor_data d
	JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	WHERE t.text = 'SELECT \$1, \$2, \$3, \$4 AS length_marker')),
	'4 true true', 'they keep the 1 s buckets they were collected in');

$node->stop;
done_testing();
