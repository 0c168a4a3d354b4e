# Two primaries export to one repository, which is found without the
# extension at first: the batches wait, and arrive once it is created.  One
# primary is named by pg_stat_monitor.pgsm_server_name, the other by the
# default; pg_stat_monitor_servers and pg_stat_monitor_history compare
# them.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $repo = PostgreSQL::Test::Cluster->new('repo');
$repo->init;
$repo->start;
my $target = 'host=' . $repo->host . ' port=' . $repo->port . ' dbname=postgres';

my $one = pgsm_node('one', bucket_time => 2, conf => qq(
pg_stat_monitor.pgsm_export_target = '$target'
pg_stat_monitor.pgsm_server_name = 'fleet_one'
));
my $two = pgsm_node('two', bucket_time => 2, conf => qq(
pg_stat_monitor.pgsm_export_target = '$target'
));
my $two_name = $two->safe_psql('postgres', 'SHOW pg_stat_monitor.pgsm_server_name');
isnt($two_name, '', 'a server without pgsm_server_name has a name');
isnt($two_name, 'fleet_one', 'not the other\'s');

$one->safe_psql('postgres', "SELECT 1 AS fleet_marker;\n" x 3);
$two->safe_psql('postgres', "SELECT 1 AS fleet_marker;\n" x 7);
$one->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');

# no extension on the repository yet: the error says what to do
ok( $one->poll_query_until('postgres',
		"SELECT last_error LIKE '%has no extension%' FROM pg_stat_monitor_info"),
	'without the extension on the repository, the error says so');

$repo->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
for my $node ($one, $two)
{
	ok( $node->poll_query_until('postgres', q(
			SELECT (SELECT count(*) FROM (SELECT pg_stat_monitor_flush()) f) = 1
			   AND count(*) = 0
			FROM pg_stat_monitor_live WHERE query LIKE '%fleet_marker%')),
		$node->name . ' sends its statistics once the extension is there');
}

my $q = $repo->safe_psql('postgres', q(
	SELECT string_agg(server_name || '=' || calls, ',' ORDER BY calls)
	FROM (SELECT h.server_name, sum(h.calls) AS calls
	      FROM pg_stat_monitor_history h
	      WHERE h.query LIKE '%fleet_marker%'
	      GROUP BY h.server_name) s));
is($q, "fleet_one=3,$two_name=7", 'history compares the two servers, with exact calls');

is( $repo->safe_psql('postgres', q(
		SELECT count(*), bool_and(batches > 0 AND calls > 0 AND rows_exported > 0)
		FROM pg_stat_monitor_servers)),
	'2|t', 'pg_stat_monitor_servers has a row for each, side by side');
is( $repo->safe_psql('postgres', qq(
		SELECT string_agg(server_name || '=' || calls, ',' ORDER BY calls)
		FROM pg_stat_monitor_totals WHERE query LIKE '%fleet_marker%')),
	"fleet_one=3,$two_name=7", 'the totals are kept per server');

# every column of history reads on a repository that has no store
is( $repo->safe_psql('postgres', q(
		SELECT count(*) > 0 AND bool_and(bucket_done IS NOT NULL AND query IS NOT NULL)
		FROM pg_stat_monitor_history WHERE query LIKE '%fleet_marker%')),
	't', 'history reads whole on the repository, bucket_done included');

# a filter by server reaches the index (its Bloom filters of server names)
my $plan = $repo->safe_psql('postgres', q(
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT count(*) FROM pg_stat_monitor_entries
	WHERE server_name = 'fleet_one' AND bucket_start_time > now() - interval '1 hour'));
like($plan, qr/Index Cond: [^\n]*server_name = 'fleet_one'/, 'a filter by server uses the index');
# (a partition's index name is cut to 63 bytes, and numbered when two of
# a year would have the same name)
like($plan, qr/bucket_start_time_server_nam\w*idx/, 'the index on the time and the server');

$one->stop;
$two->stop;
$repo->stop;
done_testing();
