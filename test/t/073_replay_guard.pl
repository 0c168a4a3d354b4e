# A batch written and committed, but never released from the store (the
# worker died between its commit and the release): the next worker finds
# its id in pg_stat_monitor_exports and releases it without writing it
# again.
#
# That moment cannot be hit from outside with a signal (nothing checks for
# interrupts between the commit and the release, and a SIGKILL empties
# shared memory), so the test builds the state it leaves: a store holding a
# frozen batch whose id is in pg_stat_monitor_exports.  The server is shut
# down while the worker holds a frozen batch (whatever it holds: the test
# reads the batch's id and size from the saved file, and never assumes
# which statements it froze); the next start writes and releases that
# batch; then the saved file is put back, and the batch comes back frozen,
# exactly as the dead worker would have left it.
#
# Nothing waits for a moment: each start is made with export off, so that
# the test looks at the frozen batch before the worker can touch it, and
# export is turned on (a reload) only then.
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

sub export_setting
{
	my ($on) = @_;
	$node->safe_psql('postgres',
		'ALTER SYSTEM SET pg_stat_monitor.pgsm_enable_table_export = ' . ($on ? 'on' : 'off'));
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()') if $on;
}

# The rows of the batch $id while it is frozen in the store, -1 when the
# store has no such batch
my $frozen_sql = q(
	CREATE FUNCTION frozen_rows(id int8) RETURNS int8 LANGUAGE plpgsql AS $$
	BEGIN
		RETURN (SELECT count(*) FROM pgsm_batch_rows(id));
	EXCEPTION WHEN object_not_in_prerequisite_state THEN
		RETURN -1;
	END $$);
$node->safe_psql('postgres', $frozen_sql);

sub frozen_rows
{
	my ($id) = @_;
	return $node->safe_psql('postgres', "SELECT frozen_rows($id)");
}

# Rows of batch $id in history: how many, and their calls
sub history_of
{
	my ($id) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*), coalesce(sum(calls), 0) FROM pg_stat_monitor_entries WHERE batch_id = $id");
}

sub exports_of
{
	my ($id) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*), coalesce(max(rows), -1) FROM pg_stat_monitor_exports WHERE batch_id = $id");
}

# --- a batch frozen in the middle of its export, saved at shutdown ----------

# a first export, so that the partitions are looked after and the next
# export goes straight to writing its batch
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
$node->poll_query_until('postgres', 'SELECT exports > 0 FROM pg_stat_monitor_info')
  or die 'no first export';

# The history table held: whatever the worker freezes next, it cannot
# write.  An export that gives up on the lock keeps its batch frozen too.
my $locker = pgsm_lock_history($node);
# statements for the batch to hold, should the worker freeze after them
$node->safe_psql('postgres', 'SELECT 1 AS replay_marker') for 1 .. 5;
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('postgres', q(
	SELECT wait_event_type = 'Lock' AND query = 'export statistics'
	FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor')),
	'the worker has frozen a batch and waits to write it');
# The next start must not export before the test has looked.  An immediate
# shutdown ends the worker where it waits, before it can take the lock.
export_setting(0);
$node->stop('immediate');
eval { $locker->quit };
ok(-s $file, 'the store is saved at shutdown');
my ($batch, $nfrozen) = frozen_batch($file);
cmp_ok($nfrozen, '>', 0, 'with its batch frozen');
copy($file, $saved) or die "could not copy $file: $!";

# --- the next start writes the batch and releases it ------------------------

$node->start;
is(frozen_rows($batch), $nfrozen, 'the batch comes back frozen, every entry of it');
is(exports_of($batch), '0|-1', 'and is not recorded as written');
is(history_of($batch), '0|0', 'no row of it is in history');

export_setting(1);
ok( $node->poll_query_until('postgres', qq(
	SELECT frozen_rows($batch) = -1)),
	'the batch is written and released');
is(exports_of($batch), "1|$nfrozen", 'the batch is recorded as written, with all its rows');
my ($rows, $calls) = split /\|/, history_of($batch);
is($rows, $nfrozen, 'every entry of the batch is in history, under its id');
export_setting(0);
$node->stop;

# --- the same batch frozen again: written already -----------------------------

copy($saved, $file) or die "could not copy $saved: $!";
$node->start;
is(frozen_rows($batch), $nfrozen,
	'the batch comes back frozen, as a worker that died after its commit leaves it');
is(exports_of($batch), "1|$nfrozen", 'while history has it');
my $failures = $node->safe_psql('postgres', 'SELECT export_failures FROM pg_stat_monitor_info');

export_setting(1);
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
ok( $node->poll_query_until('postgres', qq(
	SELECT frozen_rows($batch) = -1 OR export_failures > $failures
	FROM pg_stat_monitor_info)),
	'the worker deals with the batch');
my $released = is(frozen_rows($batch), '-1', 'a batch written already is released from the store');
is(history_of($batch), "$rows|$calls", 'and not written again');
is(exports_of($batch), "1|$nfrozen", 'the batch is recorded once');
is($node->safe_psql('postgres', 'SELECT export_failures FROM pg_stat_monitor_info'),
	$failures, 'no export failed');

# export goes on after it (not looked at when the batch is still frozen:
# every export would then fail, and each wait run to its deadline)
if ($released)
{
	# (a shape of its own: the saved store may have brought back the first
	# markers unfrozen, and an alias alone would fold these into them)
	$node->safe_psql('postgres', 'SELECT 1, 2 AS after_marker') for 1 .. 3;
	ok(pgsm_wait_exported($node, 'SELECT $1, $2 AS after_marker'), 'later batches are exported');
	is(pgsm_history_calls($node, 'SELECT $1, $2 AS after_marker'), '3', 'once');
}

$node->stop;
done_testing();
