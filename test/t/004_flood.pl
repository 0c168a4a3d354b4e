# A flood of distinct statements, more than the store can hold: no
# statement fails, and every call is in the store, in a row of its own or
# folded into an overflow row with its real figures: the store's calls add
# up to the statements executed, exactly.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('flood');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_monitor'
pg_stat_monitor.pgsm_enable_table_export = off
pg_stat_monitor.pgsm_track_planning = on
log_statement = none
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_stat_monitor;
CREATE TABLE t (a int);
INSERT INTO t SELECT generate_series(1, 10);
});

# 100 target-list lengths times 25 lengths of a chain of conditions: 2500
# statements with distinct query ids, each a top-level statement of its own.
# (Not IN lists: PostgreSQL 18 gives lists of constants of any length one
# query id.)
my $ncols = 100;
my $nlist = 25;
my $nstatements = $ncols * $nlist;

my $log_offset = -s $node->logfile;
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', qq{
SELECT pg_stat_monitor_reset();
SELECT format('SELECT %s FROM t WHERE %s',
              array_to_string(array_fill(1, ARRAY[c]), ','),
              (SELECT string_agg('a <> ' || i, ' AND ') FROM generate_series(1, l) i))
FROM generate_series(1, $ncols) c, generate_series(1, $nlist) l
\\gexec
},
	on_error_stop => 1);
is($ret, 0, 'every statement of the flood succeeds');
is($stderr, '', 'no error or warning reaches the client');
unlike(
	slurp_file($node->logfile, $log_offset),
	qr/ERROR|WARNING|PANIC/,
	'no error or warning in the server log');

# Read the counters and the view in one statement, which is itself recorded
# only when it ends.
my $row = $node->safe_psql(
	'postgres', q{
SELECT i.calls_folded, i.entries, i.entries_max, i.text_bytes,
       i.text_bytes_max,
       (SELECT sum(calls) FROM pg_stat_monitor_live),
       (SELECT count(*) FROM pg_stat_monitor_live
         WHERE query LIKE 'SELECT $1%FROM t WHERE a <> $%' AND calls > 0),
       (SELECT sum(rows) FROM pg_stat_monitor_live),
       (SELECT sum(calls) FROM pg_stat_monitor_live WHERE queryid IS NULL),
       (SELECT sum(plans) FROM pg_stat_monitor_live WHERE queryid IS NULL)
FROM pg_stat_monitor_info i});
my ($folded, $entries, $entries_max, $text, $text_max, $recorded, $flood_rows,
	$rows, $overflow_calls, $overflow_plans)
  = split /\|/, $row;
note "store: $entries of $entries_max entries, $text of $text_max text bytes";
note "calls recorded $recorded, of which folded $folded";

cmp_ok($folded, '>', 0, 'the flood is larger than the store');
cmp_ok($flood_rows, '>', 0, 'part of the flood is recorded');
is($overflow_calls, $folded, 'the overflow rows hold the calls folded');
cmp_ok($overflow_plans, '>', 0, 'and the plannings of their statements');

# pg_stat_monitor_reset() itself, the statement that generated the flood
# and the flood
is($recorded, $nstatements + 2, 'every call is in the store, exactly');

# rows: 10 - l per statement with a chain of l < 10 conditions, none with
# more; the generating statement returns one row per statement, the reset one
my $flood_result_rows = 0;
$flood_result_rows += $ncols * ($_ < 10 ? 10 - $_ : 0) for 1 .. $nlist;
is($rows, $flood_result_rows + $nstatements + 1,
	'rows returned add up, folded statements included');

# the overflow rows: fixed text, no query id, one per bucket, database, user
# and level (one user, database and level here; the flood may straddle
# two buckets), each with a histogram that counts every call
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) = count(DISTINCT bucket), bool_and(query = '<other statements: store full>'),
       bool_and(pgsm_query_id IS NULL), bool_and(toplevel),
       bool_and(calls = (SELECT sum(c::int8) FROM unnest(resp_calls) c))
FROM pg_stat_monitor_live WHERE queryid IS NULL}),
	't|t|t|t|t',
	'one overflow row per bucket, marked, its histogram complete');

# The store still works once full: the calls of an entry that exists are
# still counted.
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
$node->safe_psql('postgres', 'SELECT count(*) FROM t') for 1 .. 3;
is( $node->safe_psql(
		'postgres',
		q{SELECT sum(calls) FROM pg_stat_monitor_live WHERE query = 'SELECT count(*) FROM t'}
	),
	'3',
	'after a reset the store records again');
is($node->safe_psql('postgres', 'SELECT calls_folded FROM pg_stat_monitor_info'),
	'0', 'reset clears the folded count');

$node->stop;
done_testing();
