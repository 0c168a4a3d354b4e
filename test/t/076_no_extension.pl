# The extension not created in pgsm_database: the worker waits for it,
# says so once, and meanwhile rotates the store as the collector alone
# would, keeping the last pgsm_max_buckets buckets (no fewer).  Once the
# extension is created, what the store still holds is exported.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $nb = 3;
my $node = pgsm_node('noext', bucket_time => 2, no_extension => 1,
	conf => "pg_stat_monitor.pgsm_max_buckets = $nb\n");

$node->wait_for_log(
	qr/LOG:  pg_stat_monitor worker is waiting for extension "pg_stat_monitor" to be created in database "postgres"/);
pass('the worker says it waits for the extension');

# the live view, from another database that has the extension
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION pg_stat_monitor');

my @out = split /\n/, $node->safe_psql('other', q(
	SELECT 1 AS noext_marker;
	SELECT sum(calls), max(bucket) FROM pg_stat_monitor_live
	WHERE query = 'SELECT $1 AS noext_marker'));
my ($calls, $b) = split /\|/, $out[-1];
is($calls, '1', 'statements are recorded meanwhile');
my ($gone, $early) = pgsm_wait_rotated($node, 'other', 'SELECT $1 AS noext_marker',
	$b, $nb, 2);
ok($gone, 'an old bucket leaves the store');
ok(!$early, "not before $nb buckets had begun since it");
is($node->safe_psql('other', 'SELECT exports, export_failures FROM pg_stat_monitor_info'),
	'0|0', 'nothing exported, nothing failed');
my $waits = () = slurp_file($node->logfile) =~ /is waiting for extension/g;
is($waits, 1, 'the worker said it once');

# the extension appears: export starts with what the store holds
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
$node->safe_psql('postgres', 'SELECT 1 AS created_marker') for 1 .. 3;
$node->wait_for_log(
	qr/LOG:  pg_stat_monitor worker found extension "pg_stat_monitor" in database "postgres" and starts exporting/,
	$offset);
pass('the worker says it found the extension');
ok(pgsm_wait_exported($node, 'SELECT $1 AS created_marker'), 'what the store holds is exported');
is(pgsm_history_calls($node, 'SELECT $1 AS created_marker'), '3', 'all of it');
is(pgsm_history_calls($node, 'SELECT $1 AS noext_marker'), '0',
	'what had left the store is not');

$node->stop;
done_testing();
