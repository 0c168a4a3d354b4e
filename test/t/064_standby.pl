# On a standby the worker writes nothing and logs no error, and the live
# view works; the primary exports as usual.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $primary = pgsm_node('primary', bucket_time => 1,
	init => { allows_streaming => 1 });
$primary->backup('backup');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
# three buckets in the store, so that the worker's rotation shows soon
$standby->append_conf('postgresql.conf', q(
pg_stat_monitor.pgsm_max_buckets = 3
pg_stat_monitor.pgsm_bucket_time = 2
));
$standby->start;
$primary->wait_for_catchup($standby);

# in one session, a few milliseconds apart: far less than the buckets kept
my @out = split /\n/, $standby->safe_psql('postgres',
	"SELECT 1 AS standby_marker;\n" x 4
	  . "SELECT sum(calls), max(bucket) FROM pg_stat_monitor_live WHERE query = 'SELECT \$1 AS standby_marker'");
my ($calls, $bucket) = split /\|/, $out[-1];
is($calls, '4', 'the live view works on a standby');
is( $standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor'"),
	'1', 'the worker runs on the standby');
# A few buckets go by: the worker rotates the store, as without export,
# which only it does.  Then it has been through several cycles, and must
# have exported nothing, failed nothing and logged nothing.
my ($gone, $early) = pgsm_wait_rotated($standby, 'postgres',
	'SELECT $1 AS standby_marker', $bucket, 3, 2);
ok($gone, 'the worker on the standby runs its cycles, rotating the store');
ok(!$early, 'not before three buckets had begun since it');
is( $standby->safe_psql('postgres', 'SELECT exports, export_failures FROM pg_stat_monitor_info'),
	'0|0', 'the standby exports nothing and fails nothing');
my $log = slurp_file($standby->logfile);
unlike($log, qr/(ERROR|WARNING|FATAL):.*pg_stat_monitor/,
	'no error from pg_stat_monitor in the standby log');

$primary->safe_psql('postgres', 'SELECT 1 AS primary_marker') for 1 .. 2;
ok(pgsm_wait_exported($primary, 'SELECT $1 AS primary_marker'),
	'the primary exports');
is(pgsm_history_calls($primary, 'SELECT $1 AS primary_marker'), '2',
	'the primary exports everything');

# after promotion, the former standby exports too
$standby->promote;
$standby->safe_psql('postgres', 'SELECT 1 AS promoted_marker') for 1 .. 2;
ok(pgsm_wait_exported($standby, 'SELECT $1 AS promoted_marker'),
	'a promoted standby exports');
is(pgsm_history_calls($standby, 'SELECT $1 AS promoted_marker'), '2',
	'a promoted standby exports everything');

$standby->stop;
$primary->stop;
done_testing();
