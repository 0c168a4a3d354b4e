# A huge statement that fails costs pg_stat_monitor no more than the text it
# keeps: the error hook reads no more than pgsm_query_max_len bytes of it.
# The backends run under an address-space limit that the server alone stays
# well within (its own copies of a statement of S bytes take about 4 S) but
# that normalizing the whole statement in the error hook, as before, exceeds:
# the client must get the server's own error, never pg_stat_monitor's.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgsmTest;

my $node = pgsm_node('large_error', bucket_time => 60,
	conf => "pg_stat_monitor.pgsm_enable_table_export = off\n");
$node->safe_psql('postgres', 'CREATE ROLE regress_plain LOGIN');

my $size = 50 * 1024 * 1024;

# the address space of an idle backend, plus 8 S
my $status = $node->safe_psql('postgres',
	q{SELECT pg_read_file('/proc/' || pg_backend_pid() || '/status')});
$status =~ /VmPeak:\s+(\d+) kB/ or die "no VmPeak in a backend's status";
my $limit = $1 * 1024 + 8 * $size;
my ($postmaster) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
system('prlimit', "--pid=$postmaster", "--as=$limit") == 0
  or die "prlimit failed";

sub run_plain
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', $sql, stdout => \$out, stderr => \$err,
		extra_params => [ '-U', 'regress_plain', '-v', 'VERBOSITY=terse' ]);
	return $err;
}

# many short constants: normalizing all of them took 12 times their size
my $err = run_plain('SELEC ' . ('1,' x ($size / 2)));
like($err, qr/syntax error at or near "SELEC"/, 'the client gets its syntax error');
unlike($err, qr/out of memory/, 'and not an error of pg_stat_monitor');
run_plain('SELEC ' . ('1,' x ($size / 2)));

# a literal the text is cut in, and a message quoting a huge value
$err = run_plain("SELECT 1 FROM WHERE 'cut-" . ('secret' x ($size / 6)) . "'");
like($err, qr/syntax error at or near "WHERE"/, 'syntax error after a huge literal');
$err = run_plain("SELECT '" . ('value' x ($size / 5)) . "'::int");
like($err, qr/invalid input syntax for type integer/, 'data error quoting a huge value');

my $rows = $node->safe_psql('postgres', q{
	SELECT left(query, 12), count(DISTINCT queryid), sum(calls),
	       max(length(query)) <= 2048, max(length(message)) <= 256,
	       bool_and(query NOT LIKE '%secret%' AND message NOT LIKE '%value%')
	FROM pg_stat_monitor_live
	WHERE elevel = 21
	GROUP BY 1 ORDER BY left(query, 12) COLLATE "C"});
is($rows, join("\n",
		'SELEC $1,$2,|1|2|t|t|t',
		'SELECT $1|1|1|t|t|t',
		'SELECT $1 FR|1|1|t|t|t'),
	'one bounded row per statement, the same query id for the same text, nothing partly shown');

$node->stop;
done_testing();
