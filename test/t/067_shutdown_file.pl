# What the store holds at a clean shutdown is saved to
# pg_stat/pg_stat_monitor.stat and read back at the next start: the file is
# removed once read; what no longer fits a smaller pgsm_max is counted in
# calls_lost; a corrupt file is ignored with a LOG line.  An immediate
# shutdown ends the postmaster normally too and saves the store as well:
# what it held comes back once, never twice.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

# Export off: the store keeps what it records, so only the file moves it
# across restarts.
my $node = pgsm_node('shutdown', bucket_time => 60,
	conf => "pg_stat_monitor.pgsm_enable_table_export = off\n"
	  . "pg_stat_monitor.pgsm_max = 2MB\n");
my $file = $node->data_dir . '/pg_stat/pg_stat_monitor.stat';

# Calls of a statement, by its text.  The markers have different shapes,
# since the query id ignores aliases.
sub marker_calls
{
	my ($query) = @_;
	return $node->safe_psql('postgres', qq(
		SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_live
		WHERE query = '$query'));
}

# --- a clean restart keeps the store, once ---------------------------------

$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
$node->safe_psql('postgres', 'SELECT 1 AS kept_marker') for 1 .. 5;
ok(!-e $file, 'no file while the server runs');
$node->stop;
ok(-s $file, 'a clean shutdown writes the file');
$node->start;
ok(!-e $file, 'the file is removed once read');
is(marker_calls('SELECT $1 AS kept_marker'), '5', 'a clean restart brings the store back');

# --- an immediate shutdown ---------------------------------------------------

# The postmaster saves the store after its children have exited, however
# they were told to.  What the last clean restart restored was removed with
# its file and is in the store once: it comes back once, with what came
# after it.
$node->safe_psql('postgres', 'SELECT 1, 2 AS again_marker') for 1 .. 3;
$node->stop('immediate');
ok(-s $file, 'an immediate shutdown saves the store too');
$node->start;
is( marker_calls('SELECT $1 AS kept_marker') . '|'
	  . marker_calls('SELECT $1, $2 AS again_marker'),
	'5|3', 'after an immediate shutdown everything comes back, once');
is($node->safe_psql('postgres', 'SELECT calls_lost FROM pg_stat_monitor_info'),
	'0', 'nothing is counted as lost');

# --- a smaller store: what does not fit is counted --------------------------

$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
my ($flood, $n) = pgsm_flood_file($node, 40);
$node->command_ok([ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $flood ],
	"$n distinct statements");
my ($saved, $entries) = split /\|/, $node->safe_psql('postgres', q(
	SELECT (SELECT sum(calls) FROM pg_stat_monitor_live), entries
	FROM pg_stat_monitor_info));
cmp_ok($entries, '>', 1500, 'the store holds the statements');
# the statement above is recorded too, when it ends
$saved += 1;
$node->stop;
$node->append_conf('postgresql.conf', 'pg_stat_monitor.pgsm_max = 1MB');
my $log_offset = -s $node->logfile;
$node->start;
my ($restored, $lost, $max) = split /\|/, $node->safe_psql('postgres', q(
	SELECT (SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_live), calls_lost,
	       entries_max
	FROM pg_stat_monitor_info));
cmp_ok($max, '<', $entries, 'the smaller store holds fewer entries than were saved');
cmp_ok($lost, '>', 0, 'what does not fit is counted in calls_lost');
cmp_ok($restored, '>', 0, 'what fits is restored');
is($restored + $lost, $saved, 'every saved call is either restored or counted lost');
like(slurp_file($node->logfile, $log_offset),
	qr/LOG:  pg_stat_monitor could not restore \d+ of \d+ saved entries/,
	'the loss is logged');

# --- a corrupt file is ignored -----------------------------------------------

$node->safe_psql('postgres', 'SELECT 1, 2, 3 AS corrupt_marker') for 1 .. 2;
$node->stop;
ok(-s $file, 'a file is written');
open my $fh, '+<', $file or die "could not open $file: $!";
binmode $fh;
print $fh "not a pg_stat_monitor file" x 4;
close $fh;
$log_offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $log_offset),
	qr/LOG:  ignoring invalid file "pg_stat\/pg_stat_monitor.stat"/,
	'a corrupt file is ignored, with a LOG line');
ok(!-e $file, 'the corrupt file is removed');
is(marker_calls('SELECT $1, $2, $3 AS corrupt_marker'), '0', 'nothing is read from a corrupt file');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server runs');

$node->stop;
done_testing();
