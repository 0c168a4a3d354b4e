# The history table locked by another session, then dropped: the worker
# says so clearly, keeps the statistics while the store has room, and
# exports them once it can.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $node = pgsm_node('trouble', bucket_time => 2);

# locked for longer than the worker's lock_timeout
my $locker = pgsm_lock_history($node);
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'SELECT 1 AS lock_marker') for 1 .. 4;
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
$node->wait_for_log(
	qr/WARNING:  pg_stat_monitor worker could not export statistics: canceling statement due to lock timeout/,
	$log_offset);
pass('a locked history table is reported in the log');
like( $node->safe_psql('postgres',
	'SELECT export_failures > 0, last_error FROM pg_stat_monitor_info'),
	qr/^t\|canceling statement due to lock timeout/,
	'pg_stat_monitor_info shows the failure');
$locker->query_safe('ROLLBACK');
$locker->quit;
ok(pgsm_wait_exported($node, 'SELECT $1 AS lock_marker'),
	'export resumes once the lock is gone');
is(pgsm_history_calls($node, 'SELECT $1 AS lock_marker'), '4',
	'nothing was lost while the table was locked');

# dropped: the views over the table are members of the extension, so
# PostgreSQL drops the whole extension with it; the worker waits for it,
# keeping the statistics.  (The worker says so once, and may say it as
# soon as the table is gone: the log is read from before the drop.)
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q(
	ALTER EXTENSION pg_stat_monitor DROP TABLE pg_stat_monitor_entries;
	DROP TABLE pg_stat_monitor_entries CASCADE));
is( $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_monitor'"),
	'0', 'dropping the history table drops the extension');
$node->safe_psql('postgres', 'SELECT 1 AS drop_marker') for 1 .. 6;
$node->wait_for_log(
	qr/LOG:  pg_stat_monitor worker is waiting for extension "pg_stat_monitor" to be created in database "postgres"/,
	$log_offset);
pass('the worker says it waits for the extension');

# re-creating the extension gives the worker somewhere to write again
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
ok(pgsm_wait_exported($node, 'SELECT $1 AS drop_marker'),
	'export resumes once the table is back');
is(pgsm_history_calls($node, 'SELECT $1 AS drop_marker'), '6',
	'nothing was lost while the table was missing');

$node->stop;
done_testing();
