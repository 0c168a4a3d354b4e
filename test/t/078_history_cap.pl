# pg_stat_monitor.pgsm_history_max_size holds history under its size when
# one unprivileged session floods the server with distinct statements: the
# oldest rows go, with a WARNING in the log and a count in
# pg_stat_monitor_info, and no statement of the flood fails.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $max = 1024 * 1024;
my $node = pgsm_node('cap', bucket_time => 2,
	conf => "pg_stat_monitor.pgsm_history_max_size = '1MB'\n");

my $size_sql = q(
	SELECT coalesce(sum(pg_total_relation_size(p.partition)), 0)
	FROM (SELECT partition FROM pgsm_partitions('pg_stat_monitor_entries')
	      UNION ALL
	      SELECT partition FROM pgsm_partitions('pg_stat_monitor_compact')) p);

# 10,000 distinct statements: at several hundred bytes a row, history would
# take several times the limit
my ($file, $count) = pgsm_flood_file($node, 100);
$node->safe_psql('postgres', 'CREATE ROLE flooder LOGIN; GRANT SELECT ON w TO flooder');
my $ret = $node->psql('postgres', undef,
	extra_params => [ '-U', 'flooder', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $file ]);
is($ret, 0, 'no statement of the flood failed');

# once the store has been exported, history is under the limit
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('postgres', qq(
	SELECT (SELECT count(*) = 0 FROM pg_stat_monitor_live l
	        JOIN pg_roles r ON r.oid = l.userid WHERE r.rolname = 'flooder')
	   AND ($size_sql) <= $max)),
	'history is held under pg_stat_monitor.pgsm_history_max_size');

my $dropped = $node->safe_psql('postgres',
	'SELECT history_rows_dropped FROM pg_stat_monitor_info');
cmp_ok($dropped, '>', 0, 'pg_stat_monitor_info counts the rows dropped');
ok( $node->log_contains(
		qr/WARNING:  pg_stat_monitor history reached pg_stat_monitor.pgsm_history_max_size: \d+ oldest rows dropped/),
	'a WARNING says so in the log');

# the oldest went: what is kept is the latest, the last batch written included
is( $node->safe_psql('postgres', q(
	SELECT count(*) > 0 FROM pg_stat_monitor_entries
	WHERE batch_id = (SELECT max(batch_id) FROM pg_stat_monitor_exports)
	   OR batch_id > (SELECT max(batch_id) FROM pg_stat_monitor_exports) - 3)),
	't', 'the latest rows are kept');
is( $node->safe_psql('postgres', q(
	SELECT min(batch_id) > (SELECT min(batch_id) FROM pg_stat_monitor_exports)
	FROM pg_stat_monitor_entries)),
	't', 'the first rows written went');

# history goes on: statements after the flood are exported
$node->safe_psql('postgres', 'SELECT 1 AS after_the_flood');
ok( $node->poll_query_until('postgres', q(
	SELECT count(*) > 0 FROM pg_stat_monitor_history
	WHERE query = 'SELECT $1 AS after_the_flood')),
	'export goes on after the cap');
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('postgres', "SELECT ($size_sql) <= $max"),
	'and history stays under the limit');

$node->stop;
done_testing();
