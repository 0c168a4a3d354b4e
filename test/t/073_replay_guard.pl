# A batch written and committed, but never released from the store (the
# worker died between its commit and the release): the next worker finds
# its id in pg_stat_monitor_exports and releases it without writing it
# again.
#
# That moment cannot be hit from outside with a signal (nothing checks for
# interrupts between the commit and the release, and a SIGKILL empties
# shared memory), so the test builds the state it leaves: a store holding a
# frozen batch whose id is in pg_stat_monitor_exports.  It saves the store
# with a batch frozen in the middle of its export, lets the next start
# write and release that batch, then puts the saved file back: the batch
# comes back frozen, exactly as the dead worker would have left it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy;
use PgsmTest;

# long buckets: the worker exports only when asked, and at start
my $node = pgsm_node('replay', bucket_time => 3600);
my $file = $node->data_dir . '/pg_stat/pg_stat_monitor.stat';
my $saved = $node->basedir . '/saved.stat';
my $marker = 'SELECT $1 AS replay_marker';

# The id of the batch frozen in a saved store, and how many entries it has
sub frozen_batch
{
	my ($path) = @_;
	open my $fh, '<', $path or die "could not open $path: $!";
	binmode $fh;
	read($fh, my $hdr, 32) == 32 or die "short file $path";
	close $fh;
	# magic, entry size, histogram cells, entries, frozen, padding, batch id
	my (undef, undef, undef, undef, $nfrozen, $batch_id) = unpack('L L l l l x4 Q', $hdr);
	return ($batch_id, $nfrozen);
}

# --- a batch frozen in the middle of its export, saved at shutdown ----------

# a first export, so that the partitions are looked after and the next
# export goes straight to writing its batch
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
$node->poll_query_until('postgres', 'SELECT exports > 0 FROM pg_stat_monitor_info')
  or die 'no first export';

my $locker = pgsm_lock_history($node);
$node->safe_psql('postgres', 'SELECT 1 AS replay_marker') for 1 .. 5;
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('postgres', q(
	SELECT wait_event_type = 'Lock' AND query = 'export statistics'
	FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor')),
	'the worker is in the middle of an export');
$node->stop;
eval { $locker->quit };
ok(-s $file, 'the store is saved at shutdown');
my ($batch, $nfrozen) = frozen_batch($file);
cmp_ok($nfrozen, '>', 0, 'with its batch frozen');
copy($file, $saved) or die "could not copy $file: $!";

# --- the next start writes the batch and releases it ------------------------

$node->start;
ok(pgsm_wait_exported($node, $marker), 'the frozen batch is written and released');
is(pgsm_history_calls($node, $marker), '5', 'the batch is written once');
my $rows = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_monitor_entries WHERE batch_id = $batch");
cmp_ok($rows, '>', 0, 'its rows carry its id');
is( $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_monitor_exports WHERE batch_id = $batch"),
	'1', 'the batch is recorded as written');
$node->stop;

# --- the same batch frozen again: written already -----------------------------

copy($saved, $file) or die "could not copy $saved: $!";
$node->start;
ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) = 0 FROM pg_stat_monitor_live WHERE query = '$marker')),
	'a batch written already is released from the store');
is(pgsm_history_calls($node, $marker), '5', 'and not written again');
is( $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_monitor_entries WHERE batch_id = $batch"),
	$rows, 'no row of the batch is added');
is( $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_monitor_exports WHERE batch_id = $batch"),
	'1', 'the batch is recorded once');
is($node->safe_psql('postgres', 'SELECT export_failures FROM pg_stat_monitor_info'),
	'0', 'no export failed');

# export goes on after it
$node->safe_psql('postgres', 'SELECT 1 AS after_marker') for 1 .. 3;
ok(pgsm_wait_exported($node, 'SELECT $1 AS after_marker'), 'later batches are exported');
is(pgsm_history_calls($node, 'SELECT $1 AS after_marker'), '3', 'once');

$node->stop;
done_testing();
