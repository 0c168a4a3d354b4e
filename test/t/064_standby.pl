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
$standby->start;
$primary->wait_for_catchup($standby);

$standby->safe_psql('postgres', 'SELECT 1 AS standby_marker') for 1 .. 4;
sleep 3;    # a few buckets go by on the standby
is( $standby->safe_psql('postgres',
	"SELECT sum(calls) FROM pg_stat_monitor_live WHERE query = 'SELECT \$1 AS standby_marker'"),
	'4', 'the live view works on a standby');
is( $standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor'"),
	'1', 'the worker runs on the standby');
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
