# pg_stat_monitor.pgsm_database names the database the worker exports to:
# statements of every database end up in its history.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $node = pgsm_node('database', bucket_time => 2, no_extension => 1,
	conf => "pg_stat_monitor.pgsm_database = 'stats'\n");
$node->safe_psql('postgres', 'CREATE DATABASE stats');
$node->safe_psql('stats', 'CREATE EXTENSION pg_stat_monitor');
# the database did not exist at start: the worker comes back for it
ok( $node->poll_query_until('stats', q(
	SELECT datname = 'stats' FROM pg_stat_activity
	WHERE backend_type = 'pg_stat_monitor')),
	'the worker connects to pgsm_database');

$node->safe_psql('postgres', 'SELECT 1 AS elsewhere_marker') for 1 .. 3;
$node->safe_psql('stats', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('stats', q(
	SELECT sum(d.calls) = 3 FROM pg_stat_monitor_data d
	JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	WHERE t.text = 'SELECT $1 AS elsewhere_marker' AND d.datname = 'postgres')),
	'statements of another database are exported to pgsm_database');

$node->stop;
done_testing();
