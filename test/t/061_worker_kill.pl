# The worker killed with pg_terminate_backend in the middle of an export,
# and with SIGKILL: it comes back, and nothing is lost or written twice.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

# long buckets: the worker exports only when asked, and at start, so that
# the batch it is killed in is the one the test made
my $node = pgsm_node('kill', bucket_time => 3600,
	conf => "restart_after_crash = on\n");

sub worker_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor'");
}

# A first export, so that partitions are looked after; then the markers,
# and the history table held, so that the next export, which freezes the
# markers as its batch, waits on its lock.
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
$node->poll_query_until('postgres', 'SELECT exports > 0 FROM pg_stat_monitor_info')
  or die 'no first export';
$node->safe_psql('postgres', 'SELECT 1 AS kill_marker') for 1 .. 10;
my $locker = pgsm_lock_history($node);
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('postgres', q(
	SELECT wait_event_type = 'Lock' AND query = 'export statistics'
	FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor')),
	'the worker is in the middle of an export');

my $pid = worker_pid();
# a batch's id is the time it was frozen, in microseconds since 2000
my $killed_at = $node->safe_psql('postgres',
	"SELECT ((extract(epoch FROM clock_timestamp()) - 946684800) * 1000000)::int8");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
# The lock is held until the worker has gone, so that it cannot commit the
# batch between the signal and its death: the next worker must write it.
ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid)),
	'the worker dies in the middle of its export');
$locker->query_safe('ROLLBACK');
$locker->quit;

ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_stat_monitor' AND pid <> $pid)),
	'the worker comes back after pg_terminate_backend');
ok(pgsm_wait_exported($node, 'SELECT $1 AS kill_marker'),
	'the interrupted batch is exported by the next worker');
my ($batches, $newest) = split /\|/, $node->safe_psql('postgres', q(
	SELECT count(DISTINCT batch_id), max(batch_id) FROM pg_stat_monitor_data d
	JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	WHERE t.text = 'SELECT $1 AS kill_marker'));
is($batches, 1, 'the markers are written in one batch');
cmp_ok($newest, '<', $killed_at, 'the batch frozen before the worker was killed');
is(pgsm_history_calls($node, 'SELECT $1 AS kill_marker'), '10',
	'nothing lost, nothing written twice');

# SIGKILL: the server restarts all processes, and the worker comes back.
# The worker commits asynchronously, and crash recovery keeps only what
# reached disk: wait until the WAL is flushed past the export's commit, so
# that what was exported before is known to survive the crash.
my $lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
ok( $node->poll_query_until('postgres',
		"SELECT pg_current_wal_flush_lsn() >= '$lsn'::pg_lsn"),
	'the export has reached disk');
$pid = worker_pid();
kill 'KILL', $pid;
ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_stat_monitor' AND pid <> $pid)),
	'the worker comes back after SIGKILL');
# (a shape of its own: in the bucket of the first markers, an alias alone
# would leave it their query id, and history's views one row for both)
$node->safe_psql('postgres', 'SELECT 1, 2 AS kill_marker_2') for 1 .. 3;
ok(pgsm_wait_exported($node, 'SELECT $1, $2 AS kill_marker_2'),
	'export goes on after the crash');
is(pgsm_history_calls($node, 'SELECT $1, $2 AS kill_marker_2'), '3',
	'statements after the crash are exported once');
is(pgsm_history_calls($node, 'SELECT $1 AS kill_marker'), '10',
	'statements exported before the crash are not written again');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM (SELECT batch_id, bucket, queryid, userid, dbid,
	                             toplevel, elevel, application_name
	                      FROM pg_stat_monitor_data
	                      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
	                      HAVING count(*) > 1) d)),
	'0', 'no entry is written twice');

$node->stop;
done_testing();
