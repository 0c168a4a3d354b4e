# The store fills while exports keep failing (the history table is locked):
# new statements are folded into overflow rows, and every call is exported
# once the table is free again, exactly.
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
$node->safe_psql('postgres', 'CREATE ROLE flooder LOGIN; GRANT SELECT ON w TO flooder');

my $locker = pgsm_lock_history($node);
my $log_offset = -s $node->logfile;
my ($ret, $out, $err) = $node->psql('postgres', undef,
	extra_params => [ '-U', 'flooder', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $file ]);
is($ret, 0, 'every statement of the flood succeeds');

# nothing can be exported while the table is locked: the store is full
cmp_ok($node->safe_psql('postgres', 'SELECT calls_folded FROM pg_stat_monitor_info'),
	'>', 0, 'with exports failing, the store fills and folds');
cmp_ok( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_live
	WHERE queryid IS NULL AND query = '<other statements: store full>'
	  AND userid = 'flooder'::regrole::oid AND dbid = (SELECT oid FROM pg_database
	                                              WHERE datname = 'postgres')
	  AND toplevel AND calls > 0)),
	'>=', 1, 'the live store shows the overflow row of the flood');
ok($node->wait_for_log(qr/worker could not export statistics/, $log_offset),
	'the failed exports are logged');

$locker->query_safe('ROLLBACK');
$locker->quit;
my ($calls, $folded) = pgsm_user_calls($node, 'flooder');
cmp_ok($folded, '>', 0, 'history has the overflow row');
is($calls, $count, 'calls in history equal statements executed');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM (SELECT 1 FROM pg_stat_monitor_data
	                      GROUP BY bucket, queryid, userid, dbid, toplevel,
	                               application_name, elevel, batch_id
	                      HAVING count(*) > 1) d)),
	'0', 'no entry is written twice');
# the overflow rows' totals too, exports of several batches added up
is(pgsm_totals_differences($node), 'none',
	'the totals equal history added up afresh, overflow rows included');

$node->stop;
done_testing();
