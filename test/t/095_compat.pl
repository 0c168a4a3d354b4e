# What tools built for pg_stat_monitor and pg_stat_statements run, against
# this fork:
# - Percona Monitoring and Management's agent for pg_stat_monitor 2.x on
#   PostgreSQL 15: its version check, its settings query and its main query
#   over finished buckets.  Every column it scans into a non-null Go value
#   must be non-null, and a finished bucket it has read must never change
#   (the agent reads each one once: a later change would be lost or counted
#   twice);
# - postgres_exporter's pg_stat_statements query, run against
#   pg_stat_monitor_statements;
# - pg_stat_monitor in a database other than pgsm_database.
# The statements are those of the pmm-agent (agent/agents/postgres/
# pgstatmonitor) and postgres_exporter (collector/pg_stat_statements.go)
# sources, written out here; only the names of the view's columns come from
# them.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $node = pgsm_node('compat', bucket_time => 2,
	conf => "pg_stat_monitor.pgsm_max_buckets = 1000\n"
	  . "listen_addresses = '127.0.0.1'\n");
my $port = $node->port;
my $tcp = "host=127.0.0.1 port=$port dbname=postgres";

$node->safe_psql('postgres', q{
	CREATE DATABASE app;
	CREATE TABLE pmm_t (a int);
	INSERT INTO pmm_t SELECT generate_series(1, 100)});
$node->safe_psql('app', 'CREATE EXTENSION pg_stat_monitor');

# ---------------------------------------------------------------------------
# PMM: the version check and the settings
# ---------------------------------------------------------------------------
my $tag = "/* agent='pgstatmonitor' */";
like($node->safe_psql('postgres', "SELECT $tag pg_stat_monitor_version()"),
	qr/^2\.\d+(\.\d+)?(-[\w.]+)?$/, 'pg_stat_monitor_version() reads as a 2.x version');
like($node->safe_psql('postgres', "SELECT $tag version()"),
	qr/^PostgreSQL 1[578]\.\d+/, 'version() names a PostgreSQL version the agent knows');
my %settings = map { split /\|/, $_, 2 } split /\n/,
  $node->safe_psql('postgres',
	"SELECT name, setting FROM pg_settings WHERE name like 'pg_stat_monitor.%'");
like($settings{'pg_stat_monitor.pgsm_normalized_query'},
	qr/^(on|off)$/, 'pgsm_normalized_query reads on or off');
like($settings{'pg_stat_monitor.pgsm_bucket_time'},
	qr/^\d+$/, 'pgsm_bucket_time reads as a whole number of seconds');

# ---------------------------------------------------------------------------
# PMM: the main query, over several buckets
# ---------------------------------------------------------------------------

# The columns the agent selects, and those it scans into non-null values
my @nullable = qw(resp_calls relations top_queryid planid query_plan
  top_query application_name sqlcode message comments);
my @non_null = qw(bucket client_ip query calls shared_blks_hit
  shared_blks_read shared_blks_dirtied shared_blks_written local_blks_hit
  local_blks_read local_blks_dirtied local_blks_written temp_blks_read
  temp_blks_written cpu_user_time cpu_sys_time rows datname userid
  cmd_type cmd_type_text elevel pgsm_query_id dbid blk_read_time
  blk_write_time total_exec_time min_exec_time max_exec_time mean_exec_time
  stddev_exec_time total_plan_time min_plan_time max_plan_time
  mean_plan_time wal_records wal_fpi wal_bytes plans bucket_start_time
  username);
# from PostgreSQL 17 on, pg_stat_monitor names the block times as
# pg_stat_statements 1.11 does, and so do PMM and postgres_exporter there
my $pg17 = $node->safe_psql('postgres', 'SHOW server_version_num') >= 170000;
s/^blk_(read|write)_time$/shared_blk_$1_time/ for ($pg17 ? @non_null : ());
my $columns = join(', ', @non_null, @nullable);
my $main = "SELECT /* agent='pgstatmonitor' */ $columns FROM pg_stat_monitor"
  . " WHERE queryid IS NOT NULL AND query IS NOT NULL AND bucket_done"
  . " AND pgsm_query_id IS NOT NULL";

# the key of a row, and the figures that must not change once read
my $key = "bucket_start_time, userid, dbid, client_ip, queryid, toplevel,"
  . " top_queryid, planid, application_name, elevel, sqlcode";
my $nulls = join(' + ',
	map { "count(*) FILTER (WHERE $_ IS NULL)" } @non_null);
my $nulls_found = 0;
my $ip_nulls = 0;

# what the agent would have read, per row: calls and total time
my %seen;
my $changed = 0;
my $marker_calls = 0;

sub pmm_poll
{
	# the agent's query, as it sends it (it must run)
	$node->safe_psql('postgres', $main);

	my ($n, $ip) = split /\|/, $node->safe_psql('postgres', qq(
		SELECT $nulls, count(*) FILTER (WHERE client_ip IS NULL)
		FROM ($main) q));
	$nulls_found += $n - $ip;
	$ip_nulls += $ip;

	for my $row (split /\n/, $node->safe_psql('postgres', qq(
		SELECT concat_ws(',', $key), calls || ':' || total_exec_time
		FROM pg_stat_monitor
		WHERE queryid IS NOT NULL AND query IS NOT NULL AND bucket_done
		  AND pgsm_query_id IS NOT NULL
		  AND query = 'SELECT count(*) FROM pmm_t WHERE a > \$1')))
	{
		my ($k, $figures) = split /\|/, $row;
		if (exists $seen{$k})
		{
			$changed++ if $seen{$k} ne $figures;
		}
		else
		{
			$seen{$k} = $figures;
			($figures =~ /^(\d+):/) and $marker_calls += $1;
		}
	}
}

# statements over TCP and a Unix socket, across at least three buckets
my $made = 0;
my $until = time + 7;
while (time < $until)
{
	$node->safe_psql('postgres', "SELECT count(*) FROM pmm_t WHERE a > $made",
		connstr => $tcp);
	$node->safe_psql('postgres', "SELECT count(*) FROM pmm_t WHERE a > $made");
	$made += 2;
	pmm_poll();
}

# then poll until every statement made is in a finished bucket the agent read
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
while ($marker_calls < $made && time < $deadline)
{
	sleep 1;
	pmm_poll();
}
pmm_poll();
is($marker_calls, $made,
	'the agent reads every call once, in finished buckets');
is($changed, 0, 'a finished bucket never changes after the agent read it');
cmp_ok(scalar(keys %seen), '>=', 2, 'over several buckets');
is($nulls_found, 0,
	'no column the agent scans into a non-null value is NULL, client_ip aside');
is($ip_nulls, 0, 'nor is client_ip, Unix-socket clients included');

# ---------------------------------------------------------------------------
# pg_stat_monitor_statements: history plus the store, one row per key
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', 'SELECT count(*) FROM pmm_t WHERE a > -1')
  for 1 .. 3;
my $all = $made + 3;
is( $node->safe_psql('postgres', q(
	SELECT sum(calls) FROM pg_stat_monitor_statements
	WHERE query = 'SELECT count(*) FROM pmm_t WHERE a > $1')),
	$all, 'pg_stat_monitor_statements counts history and the store');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_statements
	WHERE query = 'SELECT count(*) FROM pmm_t WHERE a > $1')),
	'1', 'in one row, whatever the buckets and client addresses');
is( $node->safe_psql('postgres', q(
	SELECT count(*) = count(DISTINCT (userid, dbid, toplevel, queryid))
	FROM pg_stat_monitor_statements)),
	't', 'one row per user, database, level and query id');

# times and counters agree with history plus the store
is( $node->safe_psql('postgres', q(
	WITH h AS (
	    SELECT calls, total_exec_time, min_exec_time, max_exec_time, rows,
	           bucket_start_time
	    FROM pg_stat_monitor_history
	    WHERE query = 'SELECT count(*) FROM pmm_t WHERE a > $1' AND elevel = 0
	    UNION ALL
	    SELECT calls, total_exec_time, min_exec_time, max_exec_time, rows,
	           bucket_start_time
	    FROM pg_stat_monitor_live
	    WHERE query = 'SELECT count(*) FROM pmm_t WHERE a > $1' AND elevel = 0)
	SELECT s.calls = h.calls AND s.rows = h.rows
	       AND abs(s.total_exec_time - h.total) < 1e-6
	       AND s.min_exec_time = h.min AND s.max_exec_time = h.max
	       AND s.stats_since = h.since AND s.minmax_stats_since = h.since
	       AND s.mean_exec_time BETWEEN s.min_exec_time AND s.max_exec_time
	FROM pg_stat_monitor_statements s,
	     (SELECT sum(calls) AS calls, sum(total_exec_time) AS total,
	             min(min_exec_time) AS min, max(max_exec_time) AS max,
	             sum(rows) AS rows, min(bucket_start_time) AS since FROM h) h
	WHERE s.query = 'SELECT count(*) FROM pmm_t WHERE a > $1')),
	't', 'calls, rows, times, minima, maxima and stats_since agree with history and the store');

# the standard deviation of all calls, from the totals' sums of squares:
# that of the rows of history and the store put together (a sleep of
# several lengths, in two exports and the store, gives a spread)
$node->safe_psql('postgres', "SELECT pg_sleep($_) AS spread") for (0.01, 0.05);
ok(pgsm_wait_exported($node, 'SELECT pg_sleep($1) AS spread'), 'exported');
$node->safe_psql('postgres', "SELECT pg_sleep($_) AS spread") for (0.1, 0.02);
ok(pgsm_wait_exported($node, 'SELECT pg_sleep($1) AS spread'), 'exported again');
# Read with history locked, so that no export commits in between: history
# read before an export's commit and the store read after its release would
# miss the batch.
my $spread_lock = pgsm_lock_history($node);
$node->safe_psql('postgres', "SELECT pg_sleep(0.2) AS spread");
like( $spread_lock->query_safe(q(
	WITH r AS (
	    SELECT calls, mean_exec_time AS m, stddev_exec_time AS sd
	    FROM pg_stat_monitor_history
	    WHERE query = 'SELECT pg_sleep($1) AS spread'
	    UNION ALL
	    SELECT calls, mean_exec_time, stddev_exec_time FROM pg_stat_monitor_live
	    WHERE query = 'SELECT pg_sleep($1) AS spread'),
	x AS (
	    SELECT sqrt(sum(calls * (sd ^ 2 + m ^ 2)) / sum(calls)
	                - (sum(calls * m) / sum(calls)) ^ 2) AS sd,
	           sum(calls) AS calls
	    FROM r)
	SELECT x.calls || ' ' || round((s.stddev_exec_time - x.sd)::numeric, 6)
	       || ' ' || (s.stddev_exec_time > 10)
	FROM pg_stat_monitor_statements s, x
	WHERE s.query = 'SELECT pg_sleep($1) AS spread')),
	qr/^5 -?0\.000000 true$/, 'the standard deviation is that of all calls');
$spread_lock->query_safe('ROLLBACK');
$spread_lock->quit;

# the totals of a history written before them: pgsm_add_totals(NULL, NULL)
is( $node->safe_psql('postgres', q(
	BEGIN;
	TRUNCATE pg_stat_monitor_totals;
	SELECT pgsm_add_totals(NULL, NULL);
	SELECT sum(calls) FROM pg_stat_monitor_statements WHERE query = 'SELECT count(*) FROM pmm_t WHERE a > $1';
	ROLLBACK)) =~ /(\d+)\s*$/ ? $1 : '',
	$all, 'pgsm_add_totals(NULL, NULL) adds up history as the exports did');
is(pgsm_totals_differences($node), 'none',
	'the totals equal history added up afresh, every column of every row');

# postgres_exporter's query for PostgreSQL 13 to 16 (and for 17 on, with
# its block time columns' new names), over a view
# named pg_stat_statements in a schema of its own
$node->safe_psql('postgres', q(
	CREATE SCHEMA pgss;
	CREATE VIEW pgss.pg_stat_statements AS SELECT * FROM pg_stat_monitor_statements));
my $exporter = q(SELECT
		pg_get_userbyid(userid) as user,
		pg_database.datname,
		pg_stat_statements.queryid,
		LEFT(pg_stat_statements.query, 120) as query,
		pg_stat_statements.calls as calls_total,
		pg_stat_statements.total_exec_time / 1000.0 as seconds_total,
		pg_stat_statements.rows as rows_total,
		pg_stat_statements.blk_read_time / 1000.0 as block_read_seconds_total,
		pg_stat_statements.blk_write_time / 1000.0 as block_write_seconds_total
		FROM pg_stat_statements
	JOIN pg_database
		ON pg_database.oid = pg_stat_statements.dbid
	WHERE
		total_exec_time > (
		SELECT percentile_cont(0.1)
			WITHIN GROUP (ORDER BY total_exec_time)
			FROM pg_stat_statements
		)
	ORDER BY seconds_total DESC
	LIMIT 100;);
$exporter =~ s/\.blk_(read|write)_time/.shared_blk_$1_time/g if $pg17;
my ($ret, $out, $err) = $node->psql('postgres',
	"SET search_path = pgss, public; $exporter");
is($ret, 0, "postgres_exporter's query runs") or diag($err);
(my $exporter_rows = $exporter) =~ s/;\s*$//;
is( $node->safe_psql('postgres', qq(
	SET search_path = pgss, public;
	SELECT count(*) || ' '
	       || count(*) FILTER (WHERE e."user" IS NULL OR e.datname IS NULL
	                            OR e.queryid IS NULL OR e.calls_total IS NULL
	                            OR e.seconds_total IS NULL OR e.rows_total IS NULL
	                            OR e.block_read_seconds_total IS NULL
	                            OR e.block_write_seconds_total IS NULL)
	       || ' ' || bool_or(e.query = 'SELECT pg_sleep(\$1) AS spread' AND e.calls_total = 5)
	FROM ($exporter_rows) e)) =~ s/^(\d+) /($1 > 0 ? 'some' : 'none') . ' '/er,
	'some 0 true', 'it returns rows, each with a user, database, query id and every figure, calls counted');

# pg_stat_monitor_reset() in pgsm_database empties the totals too (once
# the statements are exported: a batch being exported is not reset)
ok(pgsm_wait_exported($node, 'SELECT count(*) FROM pmm_t WHERE a > $1'),
	'exported before the reset');
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_statements
	WHERE query = 'SELECT count(*) FROM pmm_t WHERE a > $1')),
	'0', 'pg_stat_monitor_reset() resets pg_stat_monitor_statements');
$node->safe_psql('postgres', 'SELECT count(*) FROM pmm_t WHERE a > -1');
ok( $node->poll_query_until('postgres', q(
	SELECT calls = 1 AND stats_since >= (SELECT stats_reset FROM pg_stat_monitor_info)
	                  - current_setting('pg_stat_monitor.pgsm_bucket_time')::interval
	FROM pg_stat_monitor_statements
	WHERE query = 'SELECT count(*) FROM pmm_t WHERE a > $1')),
	'and counts again from there');

# ---------------------------------------------------------------------------
# pg_stat_monitor in a database other than pgsm_database
# ---------------------------------------------------------------------------
# (the history table locked, so that the worker cannot empty the store
# before it is read)
$node->safe_psql('app', 'CREATE TABLE app_t (a int)');
my $locker = pgsm_lock_history($node);
$node->safe_psql('app', 'SELECT count(*) FROM app_t AS app_marker');
is( $node->safe_psql('app', q(
	SELECT sum(calls) FROM pg_stat_monitor
	WHERE query = 'SELECT count(*) FROM app_t AS app_marker')),
	'1', "another database's pg_stat_monitor shows its statements from the store at once");
is( $node->safe_psql('app', q(
	SELECT sum(calls) FROM pg_stat_monitor_statements
	WHERE query = 'SELECT count(*) FROM app_t AS app_marker')),
	'1', 'and so does its pg_stat_monitor_statements');
$locker->query_safe('ROLLBACK');
$locker->quit;
ok( $node->poll_query_until('postgres', q(
	SELECT sum(calls) = 1 FROM pg_stat_monitor
	WHERE query = 'SELECT count(*) FROM app_t AS app_marker' AND datname = 'app')),
	"pgsm_database's pg_stat_monitor shows them from history");
ok( $node->poll_query_until('app', q(
	SELECT count(*) = 0 FROM pg_stat_monitor
	WHERE query = 'SELECT count(*) FROM app_t AS app_marker')),
	'once exported, they leave the store, and history is read in pgsm_database');

# with export off, pgsm_database's pg_stat_monitor shows the store too
$node->append_conf('postgresql.conf', "pg_stat_monitor.pgsm_enable_table_export = off\n");
$node->reload;
ok( $node->poll_query_until('postgres', 'SELECT NOT pgsm_shows_history()'),
	'export off: pg_stat_monitor reads the store');
$node->safe_psql('postgres', 'SELECT count(*) FROM pmm_t AS export_off_marker');
is( $node->safe_psql('postgres', q(
	SELECT sum(calls) FROM pg_stat_monitor
	WHERE query = 'SELECT count(*) FROM pmm_t AS export_off_marker')),
	'1', 'and shows what it holds');

$node->stop;

# ---------------------------------------------------------------------------
# An update from 2.3 counts the history written before it, and the batches
# the worker exports after it, before its next bucket boundary
# ---------------------------------------------------------------------------
my $old = pgsm_node('compat_update', bucket_time => 3600, no_extension => 1);
$old->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_monitor VERSION '2.3';
	CREATE TABLE upd_t (a int)});
$old->safe_psql('postgres', 'SELECT count(*) FROM upd_t AS before_update') for 1 .. 2;
ok(pgsm_wait_exported($old, 'SELECT count(*) FROM upd_t AS before_update'),
	'2.3: exported');
$old->safe_psql('postgres', 'ALTER EXTENSION pg_stat_monitor UPDATE');
$old->safe_psql('postgres', 'SELECT count(*) FROM upd_t AS before_update');
ok(pgsm_wait_exported($old, 'SELECT count(*) FROM upd_t AS before_update'),
	'2.4: exported early, within the same bucket');
ok(pgsm_wait_totals($old), '2.4: the batch is added to the totals');
is( $old->safe_psql('postgres', q{
	SELECT t.calls || ' ' || s.calls
	FROM pg_stat_monitor_totals t, pg_stat_monitor_statements s
	WHERE t.query = 'SELECT count(*) FROM upd_t AS before_update'
	  AND s.query = t.query}),
	'3 3', 'the totals hold the calls exported before and after the update');
$old->stop;

done_testing();
