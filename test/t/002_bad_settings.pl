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
		"pg_stat_monitor.pgsm_max = 100\n",
		qr/100 kB is outside the valid range for parameter "pg_stat_monitor.pgsm_max"/
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
		"pg_stat_monitor.pgsm_query_max_len = 1048576\n",
		qr/"pg_stat_monitor.pgsm_query_max_len" is too large for "pg_stat_monitor.pgsm_max"/
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

# Good values start, with units: a bare number of pgsm_max is kB.
ok(start_with("pg_stat_monitor.pgsm_max = 512\n"), 'pgsm_max = 512 starts');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
is($node->safe_psql('postgres', 'SELECT size FROM pg_stat_monitor_info'),
	512 * 1024, 'a bare pgsm_max is in kB');
$node->stop;

ok(start_with("pg_stat_monitor.pgsm_max = '2MB'\n"), "pgsm_max = '2MB' starts");
is($node->safe_psql('postgres', 'SELECT size FROM pg_stat_monitor_info'),
	2 * 1024 * 1024, 'pgsm_max takes units');
is($node->safe_psql('postgres', 'SHOW pg_stat_monitor.pgsm_max'),
	'2MB', 'SHOW pgsm_max');
$node->stop;

done_testing();
