# pg_stat_monitor.pgsm_database names the database the worker exports to:
# statements of every database end up in its history.  A database that does
# not exist yet is waited for.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $node = pgsm_node('database', bucket_time => 2, no_extension => 1,
	conf => "pg_stat_monitor.pgsm_database = 'stats'\n"
	  . "pg_stat_monitor.pgsm_max_buckets = 2\n");

# Until the database exists, the worker waits for it: it says so once, and
# rotates the store as it would without export.
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
ok( $node->poll_query_until('postgres', q(
	SELECT last_error = 'database "stats" does not exist'
	FROM pg_stat_monitor_info)),
	'pg_stat_monitor_info shows that pgsm_database is missing');
$node->safe_psql('postgres', 'SELECT 1 AS waiting_marker');
is( $node->safe_psql('postgres', q(
	SELECT sum(calls) FROM pg_stat_monitor_live
	WHERE query = 'SELECT $1 AS waiting_marker')),
	'1', 'statements are collected meanwhile');
ok( $node->poll_query_until('postgres', q(
	SELECT count(*) = 0 FROM pg_stat_monitor_live
	WHERE query = 'SELECT $1 AS waiting_marker')),
	'buckets older than pgsm_max_buckets are forgotten meanwhile');
my $log = slurp_file($node->logfile);
is(() = $log =~ /worker is waiting for database "stats" to be created/g,
	1, 'the wait is logged once');
unlike($log, qr/FATAL:.*database "stats" does not exist/,
	'the worker never tries to connect to a missing database');

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

$log = slurp_file($node->logfile);
is(() = $log =~ /worker is waiting for database "stats" to be created/g,
	1, 'the wait is still logged once');
like($log, qr/worker found database "stats"/, 'the end of the wait is logged');

$node->stop;
done_testing();
