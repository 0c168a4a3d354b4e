# The history table locked by another session, then dropped: the worker
# says so clearly, keeps the statistics while the store has room, and
# exports them once it can.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgsmTest;

my $node = pgsm_node('trouble', bucket_time => 2);

# Run $sql in $session every 100 ms until $done accepts what it returns, or
# the tests' timeout passes; returns the last result.
sub poll_session
{
	my ($session, $sql, $done) = @_;
	my $result;
	foreach (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		$result = $session->query_safe($sql);
		last if $done->($result);
		usleep(100_000);
	}
	return $result;
}

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

# The refresh waits for the history table before it locks its view: a
# DROP of that table, which locks it before the views over it, can then not
# deadlock with the refresh.  The sessions here are not tracked, so that
# the worker, with nothing to export, goes on to start the refresh.
my $watcher = $node->background_psql('postgres');
$locker = $node->background_psql('postgres');
$_->query_safe("SET pg_stat_monitor.pgsm_track = 'none'") for $watcher, $locker;
$watcher->query_safe('SELECT pg_stat_monitor_flush()');
poll_session($watcher, 'SELECT entries FROM pg_stat_monitor_info',
	sub { $_[0] eq '0' });
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE pg_stat_monitor_entries IN ACCESS EXCLUSIVE MODE');
# what a refresh waiting for the table holds of the extension's
my $held = poll_session($watcher, q(
	SELECT coalesce(pg_catalog.string_agg(c.relname, ',' ORDER BY c.relname), 'nothing')
	FROM pg_catalog.pg_locks w
	JOIN pg_catalog.pg_stat_activity a ON a.pid = w.pid
	LEFT JOIN pg_catalog.pg_locks h
	  ON h.pid = w.pid AND h.granted AND h.locktype = 'relation'
	LEFT JOIN pg_catalog.pg_class c
	  ON c.oid = h.relation AND c.relnamespace = 'public'::regnamespace
	WHERE NOT w.granted AND w.relation = 'pg_stat_monitor_entries'::regclass
	  AND a.backend_type = 'pg_stat_monitor refresh'
	GROUP BY w.pid),
	sub { $_[0] ne '' });
is($held, 'nothing',
	'the refresh waits for the history table holding nothing else');
$locker->query_safe('ROLLBACK');
$_->quit for $watcher, $locker;

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

# DROP EXTENSION just as the worker exports: the worker gives way, never
# the DROP (DROP EXTENSION locks the extension before its tables, DROP
# TABLE the table first; the worker locks the table, then only tries the
# extension).
my @failed;
foreach my $round (1 .. 10)
{
	$node->safe_psql('postgres', "SELECT $_ AS churn_marker_$round") for 1 .. 5;
	my ($ret, $out, $err) = $node->psql('postgres',
		'SELECT pg_stat_monitor_flush(); DROP EXTENSION pg_stat_monitor');
	push @failed, $err if $ret != 0;
	$node->safe_psql('postgres', 'CREATE EXTENSION IF NOT EXISTS pg_stat_monitor');
}
is(join("\n", @failed), '', 'DROP EXTENSION never fails for the worker');

$node->stop;
done_testing();
