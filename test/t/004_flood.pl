# A flood of distinct statements, more than the store can hold: no
# statement fails, and every call is either in pg_stat_monitor or counted
# in pg_stat_monitor_info.calls_dropped.
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
SELECT i.calls_dropped, i.entries, i.entries_max, i.text_bytes,
       i.text_bytes_max,
       (SELECT sum(calls) FROM pg_stat_monitor_live),
       (SELECT count(*) FROM pg_stat_monitor_live
         WHERE query LIKE 'SELECT $1%FROM t WHERE a <> $%' AND calls > 0)
FROM pg_stat_monitor_info i});
my ($dropped, $entries, $entries_max, $text, $text_max, $recorded, $flood_rows)
  = split /\|/, $row;
note "store: $entries of $entries_max entries, $text of $text_max text bytes";
note "calls recorded $recorded, dropped $dropped";

cmp_ok($dropped, '>', 0, 'the flood is larger than the store');
cmp_ok($flood_rows, '>', 0, 'part of the flood is recorded');

# pg_stat_monitor_reset() itself, the statement that generated the flood
# and the flood
is($recorded + $dropped, $nstatements + 2,
	'each call is either recorded or counted as dropped');

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
is($node->safe_psql('postgres', 'SELECT calls_dropped FROM pg_stat_monitor_info'),
	'0', 'reset clears the dropped count');

$node->stop;
done_testing();
