# The worker's own writes: rows inserted straight into their bucket's
# partition, and the running totals kept in place.  A partition whose
# columns are laid out otherwise than its table's, a column the export does
# not fill, a trigger on history (whose rows then go by COPY FROM, which
# fires it), totals moved, deleted or emptied under the worker, and a
# batch waiting to be added to the totals.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $node = pgsm_node('paths', bucket_time => 2);

# --- a partition laid out otherwise than its table ---------------------------

# A column dropped from the table stays in its partitions of the time, not
# in those made after; a column added with a default is one the export does
# not fill.  With every partition gone, the next export fails once (the
# worker thought its bucket's partition there) and makes it again.
$node->safe_psql('postgres', q(
	ALTER TABLE pg_stat_monitor_entries ADD COLUMN pad int;
	ALTER TABLE pg_stat_monitor_entries DROP COLUMN pad;
	ALTER TABLE pg_stat_monitor_entries ADD COLUMN note text DEFAULT 'kept';
	SELECT format('DROP TABLE %s', partition)
	FROM pgsm_partitions('pg_stat_monitor_entries') \gexec
));
$node->safe_psql('postgres', 'SELECT 1 + 1 AS layout_marker') for 1 .. 3;
ok(pgsm_wait_exported($node, 'SELECT $1 + $2 AS layout_marker'),
	'exported after every partition was dropped');
is(pgsm_history_calls($node, 'SELECT $1 + $2 AS layout_marker'), '3',
	'every call is in history');
is( $node->safe_psql('postgres', q(
	SELECT DISTINCT
	       (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = e.tableoid AND a.attnum > 0)
	       < (SELECT count(*) FROM pg_attribute a
	          WHERE a.attrelid = 'pg_stat_monitor_entries'::regclass AND a.attnum > 0),
	       e.note
	FROM pg_stat_monitor_entries e
	JOIN pg_stat_monitor_texts t ON t.text_id = e.query_text_id
	WHERE t.text = 'SELECT $1 + $2 AS layout_marker')),
	't|kept',
	'the rows went, column by column, to a partition without the dropped column, the new column at its default');

# --- a trigger on history ----------------------------------------------------

$node->safe_psql('postgres', q(
	CREATE TABLE rows_seen (n int);
	CREATE FUNCTION see_row() RETURNS trigger LANGUAGE plpgsql
	AS $$ BEGIN INSERT INTO public.rows_seen VALUES (1); RETURN NEW; END $$;
	CREATE TRIGGER see_rows BEFORE INSERT ON pg_stat_monitor_entries
	    FOR EACH ROW EXECUTE FUNCTION see_row();
));
$node->safe_psql('postgres', 'SELECT 2 * 3 AS trigger_marker') for 1 .. 2;
ok(pgsm_wait_exported($node, 'SELECT $1 * $2 AS trigger_marker'),
	'exported with a trigger on history');
is(pgsm_history_calls($node, 'SELECT $1 * $2 AS trigger_marker'), '2',
	'every call is in history');
is($node->safe_psql('postgres', 'SELECT count(*) > 0 FROM rows_seen'),
	't', 'the trigger saw the rows');
$node->safe_psql('postgres',
	'DROP TRIGGER see_rows ON pg_stat_monitor_entries');

# --- totals added after the export ------------------------------------------

# While the totals are held locked, the worker cannot add the batch it
# exported to them: the batch stays pending, and the views add its rows
# themselves, so that what they show does not depend on when it is added.
sub pending_batches
{
	return $node->safe_psql('postgres', q(
		SELECT count(*) FROM pg_stat_monitor_exports
		WHERE totals_pending_since IS NOT NULL));
}
sub statement_calls
{
	my ($text) = @_;
	return $node->safe_psql('postgres', qq(
		SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_statements
		WHERE query = '$text'));
}
sub servers_calls
{
	return $node->safe_psql('postgres',
		'SELECT calls FROM pg_stat_monitor_servers');
}

ok(pgsm_wait_totals($node), 'what was exported so far is added to the totals');
is( $node->safe_psql('postgres',
		'SELECT last_totals_ms >= 0 FROM pg_stat_monitor_info'),
	't', 'pg_stat_monitor_info says how long the last addition took');

my $pending = 'SELECT $1 % $2 AS pending_marker';
my $servers_before = servers_calls();
my $totals_locker = $node->background_psql('postgres');
$totals_locker->query_safe('BEGIN');
$totals_locker->query_safe('LOCK TABLE pg_stat_monitor_totals IN EXCLUSIVE MODE');
$node->safe_psql('postgres', 'SELECT 6 % 4 AS pending_marker') for 1 .. 3;
ok(pgsm_wait_exported($node, $pending), 'exported while the totals are locked');
cmp_ok(pending_batches(), '>', 0, 'the batch waits for the totals');
is(statement_calls($pending), '3',
	'pg_stat_monitor_statements counts the calls of a batch not yet in the totals');
cmp_ok(servers_calls(), '>=', $servers_before + 3,
	'and so does pg_stat_monitor_servers');

# The worker is killed meanwhile: what it kept in memory is gone, and the
# next one adds the batch from history.
my $worker = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_stat_monitor'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($worker)");
ok( $node->poll_query_until('postgres', qq(
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'pg_stat_monitor' AND pid <> $worker)),
	'the worker comes back');
$totals_locker->query_safe('ROLLBACK');
$totals_locker->quit;
ok(pgsm_wait_totals($node), 'the pending batch is added to the totals');
is( $node->safe_psql('postgres', qq(
		SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_totals
		WHERE query = '$pending')),
	'3', 'the totals have its calls, once');
is(statement_calls($pending), '3', 'pg_stat_monitor_statements counts them once');
is(pgsm_totals_differences($node), 'none',
	'the totals equal history added up afresh, every column of every row');

# --- totals moved, deleted, emptied ------------------------------------------

my $moved = 'SELECT $1 - $2 AS moved_marker';
sub moved_total
{
	pgsm_wait_totals($node);
	return $node->safe_psql('postgres', qq(
		SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_totals
		WHERE query = '$moved'));
}

$node->safe_psql('postgres', 'SELECT 4 - 1 AS moved_marker') for 1 .. 2;
ok(pgsm_wait_exported($node, $moved), 'exported');
is(moved_total(), '2', 'the total counts both calls');

# the total's row moves: the worker no longer finds it where it wrote it
$node->safe_psql('postgres', 'VACUUM FULL pg_stat_monitor_totals');
$node->safe_psql('postgres', 'SELECT 4 - 1 AS moved_marker') for 1 .. 3;
ok(pgsm_wait_exported($node, $moved), 'exported after VACUUM FULL');
is(moved_total(), '5', 'the moved total is found and added to');
is(pgsm_totals_differences($node), 'none',
	'the totals equal history added up afresh, every column of every row');

# deleted, as a reset of one statement does, then all of them
$node->safe_psql('postgres',
	"DELETE FROM pg_stat_monitor_totals WHERE query = '$moved'");
$node->safe_psql('postgres', 'SELECT 4 - 1 AS moved_marker') for 1 .. 4;
ok(pgsm_wait_exported($node, $moved), 'exported after the total was deleted');
is(moved_total(), '4', 'a deleted total starts again');
$node->safe_psql('postgres', 'TRUNCATE pg_stat_monitor_totals');
$node->safe_psql('postgres', 'SELECT 4 - 1 AS moved_marker') for 1 .. 2;
ok(pgsm_wait_exported($node, $moved), 'exported after TRUNCATE');
is(moved_total(), '2', 'and so do totals emptied');

# --- a reset ---------------------------------------------------------------

# A reset empties the totals and forgets the batches waiting for them.
$node->safe_psql('postgres', 'SELECT 6 % 4 AS pending_marker') for 1 .. 2;
ok(pgsm_wait_exported($node, $pending), 'exported again');
my $before_reset = $node->safe_psql('postgres',
	'SELECT max(batch_id) FROM pg_stat_monitor_exports');
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
# (the worker exports every bucket: what it exports after the reset may wait)
is( $node->safe_psql('postgres', qq(
		SELECT count(*) FROM pg_stat_monitor_exports
		WHERE totals_pending_since IS NOT NULL AND batch_id <= $before_reset)),
	'0', 'nothing exported before a reset is pending after it');
is(statement_calls($pending), '0', 'and nothing is counted');

# pgsm_fold_totals(), what deletes history runs first: a batch marked
# pending (by hand, in a transaction rolled back) is added from history,
# and no longer pending (with any the worker exported since the reset)
is( $node->safe_psql('postgres', qq(
		BEGIN;
		CREATE TEMPORARY TABLE last_batch ON COMMIT DROP AS
		    SELECT e.batch_id, min(e.bucket_start_time) AS since, sum(e.calls) AS calls
		    FROM pg_stat_monitor_entries e
		    JOIN pg_stat_monitor_texts x ON x.text_id = e.query_text_id
		    WHERE x.text = '$pending'
		    GROUP BY e.batch_id ORDER BY e.batch_id DESC LIMIT 1;
		UPDATE pg_stat_monitor_exports p SET totals_pending_since = b.since
		FROM last_batch b WHERE p.batch_id = b.batch_id;
		CREATE TEMPORARY TABLE folded ON COMMIT DROP AS SELECT pgsm_fold_totals() AS n;
		SELECT (SELECT n >= 1 FROM folded)
		       AND (SELECT sum(calls) FROM pg_stat_monitor_totals WHERE query = '$pending')
		           = (SELECT calls FROM last_batch)
		       AND NOT EXISTS (SELECT FROM pg_stat_monitor_exports p, last_batch b
		                       WHERE p.batch_id = b.batch_id
		                         AND p.totals_pending_since IS NOT NULL);
		ROLLBACK)) =~ /(\w+)\s*\z/ ? $1 : '',
	't', 'pgsm_fold_totals() adds a pending batch from history');

$node->stop;
done_testing();
