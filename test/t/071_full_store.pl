# The store fills while exports keep failing (the history table is locked):
# new statements are dropped and counted, and every call is either exported
# once the table is free again or counted in calls_dropped, exactly.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

# long buckets: only early flushes try to export, and they fail
my $node = pgsm_node('full', bucket_time => 3600);
my ($file, $count) = pgsm_flood_file($node, 60);
my $entries_max = $node->safe_psql('postgres',
	'SELECT entries_max FROM pg_stat_monitor_info');
cmp_ok($count, '>', 2 * $entries_max, 'the flood is larger than the store');

my $locker = pgsm_lock_history($node);
my $log_offset = -s $node->logfile;
my ($ret, $out, $err) = $node->psql('postgres', undef,
	extra_params => [ '-q', '-v', 'ON_ERROR_STOP=1', '-f', $file ]);
is($ret, 0, 'every statement of the flood succeeds');

# read before anything else runs, since the store is full
my $dropped = $node->safe_psql('postgres',
	'SELECT calls_dropped FROM pg_stat_monitor_info');
note "calls dropped: $dropped";
cmp_ok($dropped, '>', 0, 'with exports failing, the store fills and drops');
ok($node->wait_for_log(qr/worker could not export statistics/, $log_offset),
	'the failed exports are logged');

$locker->query_safe('ROLLBACK');
$locker->quit;
ok(pgsm_wait_exported($node, 'SELECT c%, c% FROM w'),
	'what the store kept is exported once the table is free');
is(pgsm_history_calls($node, 'SELECT c%, c% FROM w') + $dropped, $count,
	'calls in history plus calls dropped equal statements executed');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM (SELECT 1 FROM pg_stat_monitor_data
	                      GROUP BY bucket, queryid, userid, dbid, toplevel,
	                               application_name, elevel, batch_id
	                      HAVING count(*) > 1) d)),
	'0', 'no entry is written twice');

$node->stop;
done_testing();
