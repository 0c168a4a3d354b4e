# A primary and its streaming standby export to a third server, the
# repository (pg_stat_monitor.pgsm_export_target), which has the extension
# but does not preload the library.  Statements run on the standby and on
# the primary reach the repository under their own server names with exact
# calls; the repository stopped for several buckets and started again:
# nothing lost, nothing written twice.  A password in the target is never
# shown in pg_stat_monitor_info, nor the target to a non-superuser; a bad
# target string is refused with a hint.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes;
use PgsmTest;

my $bucket_time = 2;

my $repo = PostgreSQL::Test::Cluster->new('repo');
$repo->init;
$repo->start;
$repo->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
my ($host, $port) = ($repo->host, $repo->port);

# trust authentication: the password is never asked for, only carried
my $target = "host=$host port=$port dbname=postgres password=secret_pw_123";

my $primary = pgsm_node('primary', bucket_time => $bucket_time,
	init => { allows_streaming => 1 },
	conf => qq(
pg_stat_monitor.pgsm_export_target = '$target'
pg_stat_monitor.pgsm_server_name = 'primary_one'
));
$primary->backup('backup');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', q(
pg_stat_monitor.pgsm_server_name = 'standby_one'
));
$standby->start;
$primary->wait_for_catchup($standby);

# Calls of statements like $like filed under $server at the repository,
# once the server's store has none of them left: one number per source
# (history, the exports' totals).
sub repo_calls
{
	my ($server, $like) = @_;
	return $repo->safe_psql('postgres', qq(
		SELECT (SELECT coalesce(sum(h.calls), 0) FROM pg_stat_monitor_history h
		        WHERE h.server_name = '$server' AND h.query LIKE '$like')
		       || '|' ||
		       (SELECT coalesce(sum(t.calls), 0) FROM pg_stat_monitor_totals t
		        WHERE t.server_name = '$server' AND t.query LIKE '$like')));
}

sub wait_repo_calls
{
	my ($server, $like, $calls) = @_;
	return $repo->poll_query_until('postgres', qq(
		SELECT coalesce(sum(h.calls), 0) = $calls FROM pg_stat_monitor_history h
		WHERE h.server_name = '$server' AND h.query LIKE '$like'));
}

# until the store of $node holds none of them: asks for exports meanwhile
sub wait_sent
{
	my ($node, $like) = @_;
	return $node->poll_query_until('postgres', qq(
		SELECT (SELECT count(*) FROM (SELECT pg_stat_monitor_flush()) f) = 1
		   AND count(*) = 0
		FROM pg_stat_monitor_live WHERE query LIKE '$like'));
}

$standby->safe_psql('postgres', "SELECT 1 AS standby_marker;\n" x 5);
$primary->safe_psql('postgres', "SELECT 1 AS primary_marker;\n" x 3);

ok(wait_sent($standby, '%standby_marker%'), 'the standby sends its statistics');
ok(wait_sent($primary, '%primary_marker%'), 'the primary sends its statistics');
ok(wait_repo_calls('standby_one', '%standby_marker%', 5),
	'the standby\'s statements reach the repository under its name');
is(repo_calls('standby_one', '%standby_marker%'), '5|5',
	'with exact calls, in history and in the totals');
is(repo_calls('primary_one', '%primary_marker%'), '3|3',
	'the primary\'s statements too, under its own name');
is(repo_calls('primary_one', '%standby_marker%'), '0|0',
	'none of the standby\'s under the primary\'s name');
is( $repo->safe_psql('postgres',
		'SELECT string_agg(server_name, \',\' ORDER BY server_name) FROM pg_stat_monitor_servers'),
	'primary_one,standby_one', 'pg_stat_monitor_servers lists both');
is( $primary->safe_psql('postgres', 'SELECT count(*) FROM pg_stat_monitor_entries'),
	'0', 'the primary writes nothing to its own history');
is($primary->safe_psql('postgres', 'SELECT pgsm_shows_history()'),
	'f', 'pg_stat_monitor on the primary shows its store, not its empty history');

# The repository goes away for several buckets.  Statements go on on both
# servers, in every one of those buckets: of a shape of their own, since
# the totals are kept per query id and an alias does not change it.
$repo->stop;
my %expect = (standby_one => 0, primary_one => 0);
for my $i (1 .. 4)
{
	$standby->safe_psql('postgres', "SELECT 1, 2 AS outage_marker;\n" x ($i + 1));
	$primary->safe_psql('postgres', "SELECT 1, 2 AS outage_marker;\n" x (2 * $i));
	$expect{standby_one} += $i + 1;
	$expect{primary_one} += 2 * $i;
	$standby->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
	$primary->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
	Time::HiRes::usleep($bucket_time * 1_000_000);
}
for my $node ($standby, $primary)
{
	ok( $node->poll_query_until('postgres',
			'SELECT export_failures > 0 AND last_error IS NOT NULL FROM pg_stat_monitor_info'),
		$node->name . ': the failures show in pg_stat_monitor_info');
	my $err = $node->safe_psql('postgres', 'SELECT last_error FROM pg_stat_monitor_info');
	like($err, qr/repository/, $node->name . ': the error names the repository');
	unlike($err, qr/secret_pw_123/, $node->name . ': and not the password');
}
$primary->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
my ($rc, $out, $stderr) = $primary->psql('postgres',
	'SHOW pg_stat_monitor.pgsm_export_target', extra_params => [ '-U', 'plain' ]);
isnt($rc, 0, 'a non-superuser may not see the target');
unlike($out . $stderr, qr/secret_pw_123/, 'nor its password');

$repo->start;
for my $server (sort keys %expect)
{
	ok(wait_repo_calls($server, '%outage_marker%', $expect{$server}),
		"$server: after the repository came back, its statements arrive");
}
ok(wait_sent($standby, '%outage_marker%'), 'the standby\'s store is empty of them');
ok(wait_sent($primary, '%outage_marker%'), 'the primary\'s too');
for my $server (sort keys %expect)
{
	is(repo_calls($server, '%outage_marker%'), "$expect{$server}|$expect{$server}",
		"$server: nothing lost, nothing written twice");
}
is( $repo->safe_psql('postgres', q(
		SELECT count(*) FROM (SELECT e.server_name, e.batch_id, count(*) AS n
		                      FROM pg_stat_monitor_entries e
		                      GROUP BY e.server_name, e.batch_id) g
		LEFT JOIN pg_stat_monitor_exports x USING (server_name, batch_id)
		WHERE x.rows IS DISTINCT FROM g.n)),
	'0', 'every batch in history is recorded once, with its rows');

# a bad target string is refused where it is set
($rc, $out, $stderr) = $primary->psql('postgres',
	"ALTER SYSTEM SET pg_stat_monitor.pgsm_export_target = 'host=x nosuchoption=1'");
isnt($rc, 0, 'a bad target string is refused');
like($stderr, qr/invalid connection string/, 'saying it is not a connection string');
like($stderr, qr/HINT:.*password file/, 'with a hint');

$standby->stop;
$primary->stop;
$repo->stop;
done_testing();
