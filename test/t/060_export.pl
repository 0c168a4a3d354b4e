# The worker exports every bucket to pg_stat_monitor_data and refreshes the
# materialized view, and a flood of distinct statements many times larger
# than the store loses nothing: calls in history equal statements executed,
# exactly, however far the worker falls behind.  Export can be turned off and on by reload.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

# (a long window: what export off keeps stays in the store however slow the
# machine is)
my $node = pgsm_node('export', bucket_time => 2,
	conf => "pg_stat_monitor.pgsm_max_buckets = 1000\n"
	  . "listen_addresses = '127.0.0.1'\n"
	  . "pg_stat_monitor.pgsm_track_planning = on\n");

# rows arrive in history and in the materialized view
$node->safe_psql('postgres', 'CREATE TABLE t (a int)');
$node->safe_psql('postgres', "SELECT count(*) FROM t WHERE a > $_") for 1 .. 5;
# (the five may straddle a bucket boundary: add up their rows)
ok( $node->poll_query_until('postgres', q(
	SELECT sum(calls) = 5 FROM pg_stat_monitor
	WHERE query = 'SELECT count(*) FROM t WHERE a > $1')),
	'statements reach the materialized view');
is( $node->safe_psql('postgres', q(
	SELECT sum(d.calls) FROM pg_stat_monitor_data d
	JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	WHERE t.text = 'SELECT count(*) FROM t WHERE a > $1')),
	'5', 'history holds every call');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_texts
	WHERE text = 'SELECT count(*) FROM t WHERE a > $1')),
	'1', 'a query text is stored once');
# what later versions measure is in history where the server measures it,
# NULL where it does not, and the views show it on those versions
my $version = $node->safe_psql('postgres', 'SHOW server_version_num');
is( $node->safe_psql('postgres', q(
	SELECT bool_and(d.stats_since IS NOT NULL),
	       bool_and(d.local_blk_read_time IS NOT NULL AND d.jit_deform_count IS NOT NULL),
	       bool_and(d.wal_buffers_full IS NOT NULL
	                AND d.parallel_workers_launched IS NOT NULL)
	FROM pg_stat_monitor_entries d
	JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	WHERE t.text = 'SELECT count(*) FROM t WHERE a > $1')),
	't|' . ($version >= 170000 ? 't' : 'f') . '|' . ($version >= 180000 ? 't' : 'f'),
	'history holds the columns this version measures');
is( $node->safe_psql('postgres', q(
	SELECT coalesce(bool_and((to_jsonb(m) ->> 'stats_since')::timestamptz <= now()), false),
	       coalesce(bool_and((to_jsonb(m) ->> 'parallel_workers_launched')::int = 0), false)
	FROM pg_stat_monitor m
	WHERE query = 'SELECT count(*) FROM t WHERE a > $1')),
	($version >= 170000 ? 't' : 'f') . '|' . ($version >= 180000 ? 't' : 'f'),
	'the materialized view shows them from history on the versions that have them');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor')),
	'1', 'the worker shows in pg_stat_activity');

# a flood of 22,500 distinct statements at the default store size, by a
# user of its own, so that its calls can be counted exactly
my ($file, $count) = pgsm_flood_file($node, 150);
my $entries_max = $node->safe_psql('postgres',
	'SELECT entries_max FROM pg_stat_monitor_info');
cmp_ok($count, '>', 10 * $entries_max, 'the flood is many times the store');
$node->safe_psql('postgres', 'CREATE ROLE flooder LOGIN; GRANT SELECT ON w TO flooder');

my ($ret, $out, $err) = $node->psql('postgres', undef,
	extra_params => [ '-U', 'flooder', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $file ]);
is($ret, 0, 'no statement of the flood failed');

# Whether the worker keeps up with the flood depends on the machine; what
# always holds is that every call is in history, in a row of its own or,
# when the store had no room, in the overflow row of its user.
my ($calls, $folded) = pgsm_user_calls($node, 'flooder');
note "calls of the flood folded into overflow rows: " . ($folded // 'none');
is($calls, $count, 'calls in history equal statements executed');
cmp_ok($node->safe_psql('postgres', 'SELECT calls_folded FROM pg_stat_monitor_info'),
	'>=', $folded, 'calls_folded counts the calls in overflow rows');
is( $node->safe_psql('postgres', qq(
	SELECT count(*) FROM pg_stat_monitor_data d
	JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	WHERE d.queryid IS NULL
	  AND (t.text <> '<other statements: store full>' OR d.pgsm_query_id IS NOT NULL))),
	'0', 'overflow rows have the fixed text and no query id');
cmp_ok($node->safe_psql('postgres', 'SELECT early_flushes FROM pg_stat_monitor_info'),
	'>', 0, 'the store was flushed early');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM (SELECT batch_id FROM pg_stat_monitor_data
	                      GROUP BY batch_id, bucket, queryid, userid, dbid,
	                               toplevel, application_name, elevel
	                      HAVING count(*) > 1) d)),
	'0', 'no entry is written twice in a batch');

# export off by reload: once the worker has seen it, nothing is written
# and the store keeps what it collects, bucket after bucket
my $offset = -s $node->logfile;
$node->safe_psql('postgres',
	'ALTER SYSTEM SET pg_stat_monitor.pgsm_enable_table_export = off');
$node->reload;
ok($node->wait_for_log(qr/worker does not export: "pg_stat_monitor.pgsm_enable_table_export" is off/,
		$offset),
	'the worker says it stops exporting');
my $exports = $node->safe_psql('postgres', 'SELECT exports FROM pg_stat_monitor_info');
$node->safe_psql('postgres', 'SELECT 4242 AS off_marker');

# rows of every kind, by a user of their own, over TCP: what the store
# shows of them now is what history must show once they are exported
$node->safe_psql('postgres', q(
	CREATE ROLE checker LOGIN;
	GRANT SELECT, INSERT ON t TO checker;
	GRANT SELECT ON w TO checker;
	CREATE TABLE live_copy AS SELECT * FROM pg_stat_monitor_live WHERE false));
$node->psql('postgres', q(
	SELECT count(*) FROM t JOIN w ON w.c1 = t.a WHERE t.a > 0 /* a comment */;
	SELECT 1 / 0;
	SELECT 'cafÃ©' AS "u\&00e9";
	INSERT INTO t VALUES (1);
	SELECT pg_sleep(0.001);
	SELECT pg_sleep(0.05);),	# one row, two calls: min and max differ
	connstr => 'host=127.0.0.1 port=' . $node->port
	  . ' dbname=postgres user=checker',
	on_error_stop => 0);
$node->safe_psql('postgres', q(
	INSERT INTO live_copy SELECT * FROM pg_stat_monitor_live
	WHERE userid = 'checker'::regrole::oid));
my $later = $node->safe_psql('postgres', "SELECT now() + interval '4 s'");
$node->poll_query_until('postgres', "SELECT now() > '$later'");
is($node->safe_psql('postgres', 'SELECT exports FROM pg_stat_monitor_info'),
	$exports, 'no export while export is off');
is( $node->safe_psql('postgres',
	"SELECT sum(calls) FROM pg_stat_monitor_live WHERE query = 'SELECT \$1 AS off_marker'"),
	'1', 'the store keeps what it collects while export is off');

# and on again: what was kept is exported
$offset = -s $node->logfile;
$node->safe_psql('postgres',
	'ALTER SYSTEM RESET pg_stat_monitor.pgsm_enable_table_export');
$node->reload;
ok($node->wait_for_log(qr/worker exports again/, $offset),
	'the worker says it exports again');
ok(pgsm_wait_exported($node, 'SELECT $1 AS off_marker'),
	'export resumes after reload');
is(pgsm_history_calls($node, 'SELECT $1 AS off_marker'), '1',
	'what was collected while export was off is exported');

# every column but the derived ones comes out of history as it was in the
# store: texts, names, the address, relations, error, WAL, histogram
# (the view's columns, which differ between PostgreSQL versions, less the
# derived ones)
my $columns = $node->safe_psql('postgres', q(
	SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
	FROM pg_attribute
	WHERE attrelid = 'pg_stat_monitor_live'::regclass AND attnum > 0
	  AND attname NOT IN ('mean_exec_time', 'stddev_exec_time', 'mean_plan_time',
	                      'stddev_plan_time', 'bucket_done', 'stats_since',
	                      'minmax_stats_since')));
my ($checker_calls) = pgsm_user_calls($node, 'checker');
cmp_ok($checker_calls, '>=', 6, 'the checker\'s statements are exported');
is( $node->safe_psql('postgres', qq(
	SELECT (SELECT count(*) FROM live_copy WHERE client_ip = '127.0.0.1'
	          AND relations IS NOT NULL),
	       (SELECT count(*) FROM live_copy WHERE sqlcode = '22012'),
	       (SELECT sum(calls) FROM live_copy
	        WHERE query = 'SELECT pg_sleep(\$1)'),
	       (SELECT count(*) FROM live_copy
	        WHERE wal_bytes > 0 AND query LIKE 'INSERT INTO t%'),
	       (SELECT count(*) FROM (SELECT $columns FROM live_copy
	                              EXCEPT ALL
	                              SELECT $columns FROM pg_stat_monitor_history
	                              WHERE userid = 'checker'::regrole::oid) d),
	       (SELECT count(*) FROM (SELECT $columns FROM pg_stat_monitor_history
	                              WHERE userid = 'checker'::regrole::oid
	                              EXCEPT ALL
	                              SELECT $columns FROM live_copy) d))),
	'2|1|2|1|0|0', 'history rows equal the store\'s rows, column by column');

$node->stop;
done_testing();
