# For one known workload, run with pg_stat_statements loaded too, calls,
# rows, plans and block counts agree with pg_stat_statements statement by
# statement.  Both use the core query id; pg_stat_monitor may keep several
# rows for one statement (buckets, client, application, plan), so its rows
# are added up per query id.  Errors are rows of their own in
# pg_stat_monitor (elevel <> 0) and are not counted by pg_stat_statements.
#
# The workload runs twice: once with pg_stat_monitor's hooks outermost,
# once with pg_stat_statements' outermost and plans recorded.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('compare');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
pg_stat_monitor.pgsm_enable_table_export = off
pg_stat_monitor.pgsm_track_planning = on
pg_stat_statements.track_planning = on
log_statement = none
include_if_exists = 'pgsm_case.conf'
});

my @counters = qw(calls rows plans
  shared_blks_hit shared_blks_read shared_blks_dirtied shared_blks_written
  local_blks_hit local_blks_read local_blks_dirtied local_blks_written
  temp_blks_read temp_blks_written wal_records wal_fpi wal_bytes);
my $sums = join(', ', map { "sum($_)::numeric AS $_" } @counters);
my $row = join(', ', map { "x.$_" } @counters);

# One statement reads both, so that neither has seen the reading itself:
# pg_stat_statements has its planning, pg_stat_monitor keeps a planning
# until its execution ends, so the reading is left out.  So is the reset:
# pg_stat_statements loses its planning, pg_stat_monitor counts it after
# the reset, with its execution, as pg_stat_monitor 2.3 does.
my $compare = qq{
WITH s AS (
    SELECT queryid, toplevel, $sums, min(query) AS query
    FROM pg_stat_statements
    WHERE query NOT LIKE 'WITH s AS (%'
      AND query NOT LIKE 'SELECT pg_stat_statements_reset(), pg_stat_monitor_reset()'
    GROUP BY queryid, toplevel),
m AS (
    SELECT queryid, toplevel, $sums, min(query) AS query
    FROM pg_stat_monitor_live
    WHERE elevel = 0
      AND query NOT LIKE 'SELECT pg_stat_statements_reset(), pg_stat_monitor_reset()'
    GROUP BY queryid, toplevel),
j AS (
    SELECT coalesce(s.query, m.query) AS query,
           (SELECT ($row)::text FROM (SELECT s.*) x) AS pgss,
           (SELECT ($row)::text FROM (SELECT m.*) x) AS pgsm
    FROM s FULL JOIN m USING (queryid, toplevel))
SELECT count(*) FILTER (WHERE pgss IS NOT DISTINCT FROM pgsm),
       coalesce(string_agg(format(E'%s\n  pg_stat_statements %s\n  pg_stat_monitor    %s',
                                  replace(left(query, 70), E'\n', ' '), pgss, pgsm), E'\n')
                FILTER (WHERE pgss IS DISTINCT FROM pgsm), '')
FROM j};

# A workload of plain and prepared statements, utility statements, COPY,
# cursors, temporary tables (local blocks), sorts that spill (temp blocks),
# functions whose statements are nested, and errors.
my $misc = q{
CREATE TABLE misc (a int, b text);
INSERT INTO misc SELECT i, repeat('x', i % 100) FROM generate_series(1, 5000) i;
UPDATE misc SET b = upper(b) WHERE a % 7 = 0;
DELETE FROM misc WHERE a % 11 = 0;
COPY misc TO STDOUT;
CREATE TEMP TABLE tmp AS SELECT * FROM misc;
SELECT count(*) FROM tmp WHERE a > 100;
UPDATE tmp SET a = a + 1;
SET work_mem = '64kB';
SELECT a, b FROM misc ORDER BY b DESC, a LIMIT 5;
RESET work_mem;
BEGIN;
DECLARE c CURSOR FOR SELECT * FROM misc ORDER BY a;
FETCH 10 FROM c;
FETCH 20 FROM c;
CLOSE c;
COMMIT;
PREPARE p (int) AS SELECT count(*) FROM misc WHERE a < $1;
EXECUTE p(10);
EXECUTE p(1000);
DEALLOCATE p;
CREATE FUNCTION f(n int) RETURNS bigint LANGUAGE plpgsql AS
$$ BEGIN RETURN (SELECT count(*) FROM misc WHERE a < n); END $$;
SELECT f(10), f(20);
SELECT f(a) FROM misc WHERE a < 30;
DO $$ BEGIN PERFORM count(*) FROM misc; END $$;
CREATE MATERIALIZED VIEW mv AS SELECT a FROM misc WHERE a < 500;
REFRESH MATERIALIZED VIEW mv;
VACUUM ANALYZE misc;
SELECT 1 / 0;
SELECT * FROM no_such_table;
INSERT INTO misc VALUES ('not a number');
WITH w AS (UPDATE misc SET a = a WHERE a < 3 RETURNING *) SELECT count(*) FROM w;
MERGE INTO misc m USING (SELECT 1 AS a) s ON m.a = s.a
  WHEN MATCHED THEN UPDATE SET b = 'merged';
DROP MATERIALIZED VIEW mv;
DROP FUNCTION f(int);
DROP TABLE misc;
};

# pgbench's tpcb-like transaction, without BEGIN and END: a utility
# statement prepared with the extended protocol is counted by
# pg_stat_statements (PostgreSQL 15) at its first execution only, since it
# clears the query id in the cached plan; that is checked apart below.
my $script = $node->basedir . '/tpcb-like-no-xact.sql';
PostgreSQL::Test::Utils::append_to_file(
	$script, q{
\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
});

# With plans recorded, statements with different constants have different
# plans, hence rows of their own: the store is made larger for that.
foreach my $case (
	[ 'pg_stat_statements, pg_stat_monitor', 'off', '1MB' ],
	[ 'pg_stat_monitor, pg_stat_statements', 'on', '16MB' ])
{
	my ($libs, $plans, $max) = @$case;
	my $what = "shared_preload_libraries = '$libs', pgsm_enable_query_plan = $plans";

	open my $fh, '>', $node->data_dir . '/pgsm_case.conf' or die $!;
	print $fh "shared_preload_libraries = '$libs'\n";
	print $fh "pg_stat_monitor.pgsm_enable_query_plan = $plans\n";
	print $fh "pg_stat_monitor.pgsm_max = '$max'\n";
	close $fh;
	$node->start;

	$node->safe_psql('postgres', q{
CREATE EXTENSION IF NOT EXISTS pg_stat_monitor;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_history,
    pgbench_tellers;
SELECT pg_stat_statements_reset(), pg_stat_monitor_reset();
});

	$node->command_ok([ 'pgbench', '-i', '-q', '-s', '1', 'postgres' ],
		"pgbench -i ($what)");
	foreach my $mode (qw(simple extended prepared))
	{
		$node->command_ok(
			[
				'pgbench', '-n', '-t', '300', '-M', $mode,
				'-f', $script, 'postgres'
			],
			"pgbench -M $mode ($what)");
	}
	$node->psql('postgres', $misc, on_error_stop => 0);

	my ($same, $diffs) = split /\|/,
	  $node->safe_psql('postgres', $compare), 2;
	diag("$what: statements that differ:\n$diffs") if $diffs ne '';
	cmp_ok($same, '>=', 50, "$what: $same statements compared");
	is($diffs, '', "$what: calls, rows, plans, blocks and WAL agree");

	is( $node->safe_psql(
			'postgres', 'SELECT calls_folded FROM pg_stat_monitor_info'),
		'0',
		"$what: nothing folded");

	# errors are recorded by pg_stat_monitor alone
	is( $node->safe_psql(
			'postgres',
			q{SELECT string_agg(DISTINCT sqlcode, ',' ORDER BY sqlcode)
			  FROM pg_stat_monitor_live WHERE elevel = 21}),
		'22012,22P02,42P01',
		"$what: the three errors are recorded");

	# Prepared BEGIN and END: each execution counts.
	$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
	$node->command_ok([ 'pgbench', '-n', '-t', '50', '-M', 'prepared', 'postgres' ],
		"pgbench -M prepared, tpcb-like ($what)");
	is( $node->safe_psql(
			'postgres',
			q{SELECT string_agg(query || ' ' || calls, ', ' ORDER BY query)
			  FROM (SELECT query, sum(calls) AS calls FROM pg_stat_monitor_live
			        WHERE query IN ('BEGIN', 'END') GROUP BY query) q}),
		'BEGIN 50, END 50',
		"$what: prepared utility statements count at each execution");

	$node->stop;
}

done_testing();
