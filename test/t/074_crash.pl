# A real crash: a backend killed with SIGKILL, and the server restarts all
# its processes with fresh shared memory.  What was exported (and reached
# disk) is kept, once; what the store held, a batch in the middle of its
# export included, is lost, and not saved to a file; the store's counters
# start again, and stats_reset says when.  Export goes on afterwards.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

# long buckets: the worker exports only when asked, and at start
my $node = pgsm_node('crash', bucket_time => 3600,
	conf => "restart_after_crash = on\n");
my $file = $node->data_dir . '/pg_stat/pg_stat_monitor.stat';

# The markers share a bucket, so each has a shape of its own: an alias is
# no part of a query id, and markers of one shape in one bucket would be one
# entry (and one row of history's views) under the first one's text.

# --- exported before the crash -----------------------------------------------

$node->safe_psql('postgres', 'SELECT 1, 2, 3 AS kept_marker') for 1 .. 5;
ok(pgsm_wait_exported($node, 'SELECT $1, $2, $3 AS kept_marker'), 'exported before the crash');
# the worker commits asynchronously: wait until its commit is on disk
my $lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
ok( $node->poll_query_until('postgres',
		"SELECT pg_current_wal_flush_lsn() >= '$lsn'::pg_lsn"),
	'the export has reached disk');

# --- in the store at the crash --------------------------------------------------

# A batch frozen in the middle of its export (the history table is held),
# and statements recorded after it was frozen
my $locker = pgsm_lock_history($node);
$node->safe_psql('postgres', 'SELECT 1 AS frozen_marker') for 1 .. 4;
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('postgres', q(
	SELECT wait_event_type = 'Lock' AND query = 'export statistics'
	FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor')),
	'the worker is in the middle of an export');
$node->safe_psql('postgres', 'SELECT 1, 2 AS live_marker') for 1 .. 3;
is( $node->safe_psql('postgres', q(
	SELECT string_agg(query || ' ' || calls, ', ' ORDER BY query)
	FROM pg_stat_monitor_live
	WHERE query IN ('SELECT $1 AS frozen_marker', 'SELECT $1, $2 AS live_marker'))),
	'SELECT $1 AS frozen_marker 4, SELECT $1, $2 AS live_marker 3',
	'the store holds both');
my ($reset_before, $worker) = split /\|/, $node->safe_psql('postgres', q(
	SELECT stats_reset, (SELECT pid FROM pg_stat_activity
	                     WHERE backend_type = 'pg_stat_monitor')
	FROM pg_stat_monitor_info));

# --- the crash ----------------------------------------------------------------------

my $victim = $locker->query_safe('SELECT pg_backend_pid()');
my $offset = -s $node->logfile;
kill 'KILL', $victim;
$node->wait_for_log(qr/LOG:  all server processes terminated; reinitializing/, $offset);
pass('a backend killed with SIGKILL restarts the server');
eval { $locker->quit };
ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'pg_stat_monitor' AND pid <> $worker)),
	'the worker comes back');
ok(!-e $file, 'nothing is saved to a file in a crash');

# --- what is kept, lost and counted ------------------------------------------------

is(pgsm_history_calls($node, 'SELECT $1, $2, $3 AS kept_marker'), '5',
	'what was exported before the crash is kept, once');
is(pgsm_history_calls($node, 'SELECT $1 AS frozen_marker'), '0',
	'the batch being exported is lost, not written in part');
is(pgsm_history_calls($node, 'SELECT $1, $2 AS live_marker'), '0',
	'what the store held is lost');
my ($reset_after, $folded, $lost) = split /\|/, $node->safe_psql('postgres', q(
	SELECT stats_reset, calls_folded, calls_lost FROM pg_stat_monitor_info));
ok( $node->safe_psql('postgres',
		"SELECT '$reset_after'::timestamptz > '$reset_before'::timestamptz") eq 't',
	'the store starts again: stats_reset moves to the restart');
is("$folded|$lost", '0|0',
	'the counters start again from zero: a crash loses them with the store');

# --- export goes on --------------------------------------------------------------

$node->safe_psql('postgres', 'SELECT 1, 2, 3, 4 AS after_marker') for 1 .. 3;
ok(pgsm_wait_exported($node, 'SELECT $1, $2, $3, $4 AS after_marker'), 'export goes on after the crash');
is(pgsm_history_calls($node, 'SELECT $1, $2, $3, $4 AS after_marker'), '3', 'once');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM (SELECT batch_id, bucket, queryid, userid, dbid,
	                             toplevel, elevel, application_name
	                      FROM pg_stat_monitor_entries
	                      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
	                      HAVING count(*) > 1) d)),
	'0', 'no entry is written twice');

$node->stop;
done_testing();
