# Without shared_preload_libraries the extension can be created, but each
# of its C functions fails with OBJECT_NOT_IN_PREREQUISITE_STATE and a hint
# naming shared_preload_libraries; nothing is collected.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('not_preloaded');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');

foreach my $call (
	'SELECT pg_stat_monitor_version()',
	'SELECT pg_stat_monitor_reset()',
	'SELECT get_histogram_timings()',
	'SELECT range()',
	'SELECT * FROM pg_stat_monitor_info',
	'SELECT * FROM pg_stat_monitor_internal(true)',
	'SELECT * FROM pg_stat_monitor_live')
{
	my ($ret, $stdout, $stderr) = $node->psql(
		'postgres', $call,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($ret, 0, "$call fails");
	like(
		$stderr,
		qr/ERROR:  55000: pg_stat_monitor must be loaded via "shared_preload_libraries"/,
		"$call: SQLSTATE 55000 and a clear message");
	like(
		$stderr,
		qr/HINT:  .*"shared_preload_libraries"/,
		"$call: the hint names shared_preload_libraries");
}

# The functions written in SQL alone still answer.
is($node->safe_psql('postgres', 'SELECT get_cmd_type(1), decode_error_level(21)'),
	'SELECT|ERROR', 'SQL-only functions work');

# No hooks: the server runs statements as usual and logs nothing about us.
$node->safe_psql('postgres', 'CREATE TABLE t (a int); SELECT * FROM t');
unlike(slurp_file($node->logfile), qr/PANIC|TRAP/, 'no crash');

$node->stop;
done_testing();
