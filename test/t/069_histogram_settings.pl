# pgsm_histogram_min, pgsm_histogram_max and pgsm_histogram_buckets shape
# the histogram: get_histogram_timings() and range() give the cells the
# documented formula gives (bound i is min - 1 + (max - min + 1)^(i/n)),
# resp_calls has one cell more than buckets on each side, and a call lands
# in the cell its time belongs to.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my ($min, $max, $n) = (10, 1000, 4);
my $node = pgsm_node('histogram', bucket_time => 60, conf => qq(
pg_stat_monitor.pgsm_histogram_min = $min
pg_stat_monitor.pgsm_histogram_max = $max
pg_stat_monitor.pgsm_histogram_buckets = $n
pg_stat_monitor.pgsm_enable_table_export = off
));

my @bounds = (0, map { $min - 1 + ($max - $min + 1)**($_ / $n) } 0 .. $n);
$bounds[1] = $min;
$bounds[-1] = $max;
my @cells = map { sprintf('%.3f - %.3f', $bounds[$_], $bounds[ $_ + 1 ]) } 0 .. $n;
push @cells, sprintf('%.3f - ...', $max);

is($node->safe_psql('postgres', 'SELECT get_histogram_timings()'),
	join(',', @cells), 'get_histogram_timings() follows the settings');
is($node->safe_psql('postgres', q(SELECT array_to_string(range(), ','))),
	join(',', @cells), 'range() too');

$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
$node->safe_psql('postgres', 'SELECT pg_sleep(0.05)');
$node->safe_psql('postgres', 'SELECT 1 FROM pg_sleep(2)');
for my $q ('SELECT pg_sleep($1)', 'SELECT $1 FROM pg_sleep($2)')
{
	my ($cells, $time) = split /\|/, $node->safe_psql('postgres', qq(
		SELECT array_to_string(resp_calls, ','), total_exec_time
		FROM pg_stat_monitor_live WHERE query = '$q'));
	my @calls = split /,/, $cells;
	is(scalar(@calls), $n + 2, "$q: resp_calls has buckets + 2 cells");
	my @hit = grep { $calls[$_] > 0 } 0 .. $#calls;
	is(scalar(@hit), 1, "$q: one cell counted");
	my $i = $hit[0] // -1;
	ok( $i >= 0 && $bounds[$i] <= $time
		  && ($i == $#calls || $time < $bounds[ $i + 1 ]),
		"$q: the call is in the cell of its time ($time ms, cell $i)");
}

$node->stop;
done_testing();
