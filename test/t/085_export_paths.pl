# The worker's own writes: rows inserted straight into their bucket's
# partition, and the running totals kept in place.  A partition whose
# columns are laid out otherwise than its table's, a column the export does
# not fill, a trigger on history (whose rows then go by COPY FROM, which
# fires it), and totals moved, deleted or emptied under the worker.
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

$node->stop;
done_testing();
