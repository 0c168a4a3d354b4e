# Settings read at server start are checked there: a bad value stops the
# server with a message naming the setting, rather than being replaced by
# the default with a warning that is easy to miss.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('settings');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_monitor'
pg_stat_monitor.pgsm_enable_table_export = off
include_if_exists = 'pgsm_case.conf'
});

# Start with the given lines in pgsm_case.conf; return whether it started.
sub start_with
{
	my ($lines) = @_;
	open my $fh, '>', $node->data_dir . '/pgsm_case.conf' or die $!;
	print $fh $lines;
	close $fh;
	return $node->start(fail_ok => 1);
}

my @bad = (
	[
		"pg_stat_monitor.pgsm_max = 20000\n",
		qr/20000 MB is outside the valid range for parameter "pg_stat_monitor.pgsm_max"/
	],
	[
		"pg_stat_monitor.pgsm_max = 'lots'\n",
		qr/invalid value for parameter "pg_stat_monitor.pgsm_max": "lots"/
	],
	[
		"pg_stat_monitor.pgsm_track = 'sometimes'\n",
		qr/invalid value for parameter "pg_stat_monitor.pgsm_track": "sometimes"/
	],
	[
		"pg_stat_monitor.pgsm_histogram_buckets = 500\n",
		qr/500 is outside the valid range for parameter "pg_stat_monitor.pgsm_histogram_buckets"/
	],
	[
		"pg_stat_monitor.pgsm_bucket_time = 0\n",
		qr/0 s is outside the valid range for parameter "pg_stat_monitor.pgsm_bucket_time"/
	],
	[
		"pg_stat_monitor.pgsm_histogram_min = 500\npg_stat_monitor.pgsm_histogram_max = 100\n",
		qr/"pg_stat_monitor.pgsm_histogram_min" must be less than "pg_stat_monitor.pgsm_histogram_max"/
	],
	[
		"pg_stat_monitor.pgsm_max = '100kB'\n",
		qr/0 MB is outside the valid range for parameter "pg_stat_monitor.pgsm_max"/
	],
	[
		"pg_stat_monitor.pgsm_server_name = '" . ('x' x 64) . "'\n",
		qr/"pg_stat_monitor.pgsm_server_name" is too long.*\n.*\n.*HINT:  Give a short name/
	],
	[
		"pg_stat_monitor.pgsm_query_max_len = 1048576\n",
		qr/"pg_stat_monitor.pgsm_query_max_len" is too large for "pg_stat_monitor.pgsm_max".*\n.*\n.*HINT:  .*raise pgsm_max to at least 8 MB/
	],);

foreach my $case (@bad)
{
	my ($lines, $message) = @$case;
	(my $name = $lines) =~ s/\n/ /g;
	my $offset = -s $node->logfile // 0;
	ok(!start_with($lines), "refused at start: $name");
	like(slurp_file($node->logfile, $offset),
		qr/FATAL:  .*$message/, "clear message: $name");
}

# Good values start, with units: a bare number of pgsm_max is MB, as in
# pg_stat_monitor.
ok(start_with("pg_stat_monitor.pgsm_max = 3\n"), 'pgsm_max = 3 starts');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
is($node->safe_psql('postgres', 'SELECT size FROM pg_stat_monitor_info'),
	3 * 1024 * 1024, 'a bare pgsm_max is in MB');
$node->stop;

# pg_stat_monitor's own settings section, every one of its 18 settings with
# values within its ranges, starts and means the same here
my $upstream_offset = -s $node->logfile;
ok( start_with(q{
pg_stat_monitor.pgsm_max = 100
pg_stat_monitor.pgsm_query_max_len = 4096
pg_stat_monitor.pgsm_max_buckets = 20
pg_stat_monitor.pgsm_bucket_time = 172800
pg_stat_monitor.pgsm_histogram_min = 5
pg_stat_monitor.pgsm_histogram_max = '10s'
pg_stat_monitor.pgsm_histogram_buckets = 10
pg_stat_monitor.pgsm_query_shared_buffer = 20
pg_stat_monitor.pgsm_track_utility = on
pg_stat_monitor.pgsm_track_application_names = on
pg_stat_monitor.pgsm_enable_pgsm_query_id = on
pg_stat_monitor.pgsm_normalized_query = off
pg_stat_monitor.pgsm_enable_overflow = on
pg_stat_monitor.pgsm_enable_query_plan = off
pg_stat_monitor.pgsm_extract_comments = off
pg_stat_monitor.pgsm_track = top
pg_stat_monitor.pgsm_track_planning = off
}), "pg_stat_monitor's settings start the server");
unlike(slurp_file($node->logfile, $upstream_offset),
	qr/WARNING:  (?!pg_stat_monitor.pgsm_track_application_names is deprecated).*pgsm_/,
	'without a warning, but the deprecation pg_stat_monitor gives too');
is( $node->safe_psql('postgres', q{
	SELECT size / 1024 / 1024 FROM pg_stat_monitor_info}),
	'100', 'pgsm_max = 100 is 100 MB, as in pg_stat_monitor');
is( $node->safe_psql('postgres', q{
	SELECT current_setting('pg_stat_monitor.pgsm_bucket_time') || ' '
	    || current_setting('pg_stat_monitor.pgsm_histogram_min') || ' '
	    || current_setting('pg_stat_monitor.pgsm_histogram_max')}),
	'2d 5ms 10s', 'bucket time and histogram bounds keep their units');
$node->stop;

# the ends of pg_stat_monitor's ranges that a test machine can afford
# (pgsm_max up to 10240 MB is accepted as well, see settings.out)
ok( start_with(q{
pg_stat_monitor.pgsm_max = 10
pg_stat_monitor.pgsm_query_max_len = 1024
pg_stat_monitor.pgsm_max_buckets = 20000
pg_stat_monitor.pgsm_bucket_time = 2147483647
pg_stat_monitor.pgsm_histogram_min = 0
pg_stat_monitor.pgsm_histogram_max = 50000000
pg_stat_monitor.pgsm_histogram_buckets = 50
pg_stat_monitor.pgsm_query_shared_buffer = 10000
pg_stat_monitor.pgsm_track = all
}), "the ends of pg_stat_monitor's ranges start the server");
$node->safe_psql('postgres', 'SELECT 1 AS range_ends_marker');
is( $node->safe_psql('postgres', q{
	SELECT calls || ' ' || array_length(resp_calls, 1)
	FROM pg_stat_monitor_live WHERE query = 'SELECT $1 AS range_ends_marker'}),
	'1 52', 'and statements are recorded, with 50 histogram cells and two more');
is( $node->safe_psql('postgres', q{
	SELECT size / 1024 / 1024 || ' ' || current_setting('pg_stat_monitor.pgsm_histogram_max')
	FROM pg_stat_monitor_info}),
	'10 50000s', 'pgsm_max and pgsm_histogram_max mean what they mean there');
$node->stop;

# the settings the plan writes with ALTER SYSTEM are accepted as written
ok( start_with(q{
pg_stat_monitor.pgsm_max = '1MB'
pg_stat_monitor.pgsm_max_buckets = 1
pg_stat_monitor.pgsm_query_shared_buffer = '100kB'
}), "pgsm_query_shared_buffer = '100kB' starts");
is( $node->safe_psql('postgres',
	'SHOW pg_stat_monitor.pgsm_query_shared_buffer'),
	'100kB', 'and shows as written');
$node->stop;

ok(start_with("pg_stat_monitor.pgsm_max = '2MB'\n"), "pgsm_max = '2MB' starts");
is($node->safe_psql('postgres', 'SELECT size FROM pg_stat_monitor_info'),
	2 * 1024 * 1024, 'pgsm_max takes units');
is($node->safe_psql('postgres', 'SHOW pg_stat_monitor.pgsm_max'),
	'2MB', 'SHOW pgsm_max');
$node->stop;

# pgsm_track_application_names is deprecated, as in pg_stat_monitor 2.x: the
# server starts, says so, and application names are recorded all the same
my $offset = -s $node->logfile // 0;
ok(start_with("pg_stat_monitor.pgsm_track_application_names = off\n"),
	'pgsm_track_application_names = off starts');
like(
	slurp_file($node->logfile, $offset),
	qr/WARNING:  pg_stat_monitor.pgsm_track_application_names is deprecated and has no effect\n.*DETAIL:  Application names are always recorded.\n.*HINT:  Remove the setting from the configuration./,
	'with a deprecation warning');
$node->safe_psql('postgres', 'SELECT 1 AS app_tracked',
	connstr => $node->connstr('postgres') . ' application_name=regress_app');
is( $node->safe_psql('postgres', q{
	SELECT application_name FROM pg_stat_monitor_live
	WHERE query LIKE 'SELECT $1 AS app_tracked'}),
	'regress_app', 'application names are recorded');
$node->stop;

done_testing();
