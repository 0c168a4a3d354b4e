# Four clients at once, 50,000 statements each, every one with a query id
# of its own, in a database of their own, at the default store size: far
# more than the store holds and, on a busy machine, more than the worker
# keeps up with.  Whatever the store could not give entries to is folded
# into overflow rows, so history holds every call: 200,000 exactly.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $clients = 4;
my $per_client = 50_000;
my $ncols = 450;						# 450 * 450 column pairs > 200,000

my $node = pgsm_node('clients', bucket_time => 10);
$node->safe_psql('postgres', 'CREATE DATABASE flood');
$node->safe_psql('postgres', 'CREATE ROLE flooder LOGIN');
$node->safe_psql('flood',
	'CREATE TABLE w (' . join(', ', map { "c$_ int" } 0 .. $ncols - 1) . ');'
	  . ' GRANT SELECT ON w TO flooder');

# Statement i (0 to 199,999) of the run selects columns i / 450 and
# i % 450: 200,000 distinct column pairs, so 200,000 distinct query ids.
# Each client counts its own transactions in n (-D n=0).
my $script = <<"SCRIPT";
\\set n :n + 1
\\set i :client_id * $per_client + :n - 1
\\set a :i / $ncols
\\set b :i % $ncols
SELECT c:a, c:b FROM w;
SCRIPT

my $total = $clients * $per_client;
$node->pgbench(
	"-n -U flooder -c $clients -j $clients -t $per_client -D n=0",
	0,
	[qr{processed: $total/$total}],
	[qr{^$}],
	'every statement of four clients succeeds',
	{ '077_flood_clients' => $script },
	'flood');

my $distinct = $node->safe_psql('postgres', 'SELECT entries_max FROM pg_stat_monitor_info');
cmp_ok($total, '>', 100 * $distinct, 'the flood is a hundred times the store');

my ($calls, $folded) = pgsm_user_calls($node, 'flooder', 'flood');
note "calls folded into overflow rows: " . ($folded // 'none');
is($calls, $total, 'calls in history equal statements executed: 200,000');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_data
	WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'flood')
	  AND queryid IS NULL
	  AND (userid <> 'flooder'::regrole::oid OR NOT toplevel))),
	'0', 'overflow rows keep their database, user and level');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM (SELECT 1 FROM pg_stat_monitor_data
	                      WHERE queryid IS NOT NULL
	                        AND userid = 'flooder'::regrole::oid
	                      GROUP BY queryid HAVING sum(calls) <> 1) d)),
	'0', 'each statement of its own is counted once');

$node->stop;
done_testing();
