# Helpers shared by pg_stat_monitor's TAP tests.
package PgsmTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes;

use Exporter 'import';
our @EXPORT = qw(pgsm_node pgsm_wait_exported pgsm_flood_file pgsm_history_calls
  pgsm_lock_history pgsm_wait_rotated pgsm_user_calls pgsm_wait_totals
  pgsm_totals_differences);

# A started server with pg_stat_monitor preloaded and the extension created
# in database postgres, where the worker exports.  Extra settings may follow.
sub pgsm_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_stat_monitor'
pg_stat_monitor.pgsm_bucket_time = $opts{bucket_time}
) . ($opts{conf} // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor')
	  unless $opts{no_extension};
	return $node;
}

# A session holding pg_stat_monitor_entries locked, so that the worker's next
# export waits on it (and, after lock_timeout, fails).  Release it with
# $locker->query_safe('ROLLBACK') and $locker->quit.
sub pgsm_lock_history
{
	my ($node) = @_;
	my $locker = $node->background_psql('postgres');

	$locker->query_safe('BEGIN');
	$locker->query_safe('LOCK TABLE pg_stat_monitor_entries IN ACCESS EXCLUSIVE MODE');
	return $locker;
}

# Ask the worker to export, and wait until the store is empty or only holds
# entries whose query matches none of "like".
sub pgsm_wait_exported
{
	my ($node, $like) = @_;

	$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
	return $node->poll_query_until('postgres', qq(
		SELECT count(*) = 0 FROM pg_stat_monitor_live WHERE query LIKE '$like'))
	  && $node->poll_query_until('postgres',
		'SELECT entries = 0 OR exports > 0 FROM pg_stat_monitor_info');
}

# Ask the worker to bring pg_stat_monitor_totals up to date (it adds the
# batches it exported a moment after their export, and at once when
# pg_stat_monitor_flush() asks), and wait until no exported batch is
# pending.  True once none is.
sub pgsm_wait_totals
{
	my ($node) = @_;

	return $node->poll_query_until('postgres', q(
		SELECT (SELECT count(*) FROM (SELECT pg_stat_monitor_flush()) f) = 1
		   AND NOT EXISTS (SELECT FROM pg_stat_monitor_exports
		                   WHERE totals_pending_since IS NOT NULL)));
}

# A file of distinct statements (each its own query id): SELECT ci, cj FROM w
# over i, j in 1..n.  Returns the file name and the statement count.
sub pgsm_flood_file
{
	my ($node, $n) = @_;
	my $cols = join(', ', map { "c$_ int" } 1 .. $n);
	$node->safe_psql('postgres', "CREATE TABLE w ($cols)");

	my $file = $node->basedir . '/flood.sql';
	open my $fh, '>', $file or die "could not write $file: $!";
	for my $i (1 .. $n)
	{
		print $fh "SELECT c$i, c$_ FROM w;\n" for 1 .. $n;
	}
	close $fh;
	return ($file, $n * $n);
}

# Calls of statements whose text matches "like", in history and in the live
# store.
sub pgsm_history_calls
{
	my ($node, $like) = @_;
	return $node->safe_psql('postgres', qq(
		SELECT (SELECT coalesce(sum(d.calls), 0) FROM pg_stat_monitor_entries d
		        JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
		        WHERE t.text LIKE '$like')
		     + (SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_live
		        WHERE query LIKE '$like')));
}

# Watch a statement of bucket $bucket (buckets of $bucket_time seconds)
# until the worker rotates it out of the store, which it must not do before
# bucket $bucket + $nb has begun.  Each look reads the store and then the
# clock in one statement, so a statement found gone in an earlier bucket
# was gone too early.  Returns (whether it went, whether it went too early).
sub pgsm_wait_rotated
{
	my ($node, $db, $query, $bucket, $nb, $bucket_time) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;

	while (time < $deadline)
	{
		my ($calls, $now) = split /\|/, $node->safe_psql($db, qq(
			SELECT count(*),
			       floor(extract(epoch FROM clock_timestamp()) / $bucket_time)::int8
			FROM pg_stat_monitor_live WHERE query = '$query'));
		return (1, $now < $bucket + $nb) if $calls == 0;
		Time::HiRes::usleep(50_000);
	}
	return (0, 0);
}

# Every call of one user (in one database, if named) once the store holds
# none of them: asks for exports until pg_stat_monitor_live shows no row of
# theirs, then sums calls in history, overflow rows included.  Returns
# (calls, of which in overflow rows), or () when the wait timed out.  The
# user must run nothing meanwhile.  (Reading history and the live store in
# one statement could miss a batch released in between.)
sub pgsm_user_calls
{
	my ($node, $user, $dbname) = @_;
	my $cond = "userid = (SELECT oid FROM pg_roles WHERE rolname = '$user')";
	$cond .= " AND dbid = (SELECT oid FROM pg_database WHERE datname = '$dbname')"
	  if defined $dbname;

	return ()
	  unless $node->poll_query_until('postgres', qq(
		SELECT (SELECT count(*) FROM (SELECT pg_stat_monitor_flush()) f) = 1
		   AND count(*) = 0
		FROM pg_stat_monitor_live WHERE $cond));
	return split /\|/, $node->safe_psql('postgres', qq(
		SELECT coalesce(sum(calls), 0),
		       coalesce(sum(calls) FILTER (WHERE queryid IS NULL), 0)
		FROM pg_stat_monitor_data WHERE $cond));
}

# The totals of pg_stat_monitor_statements (pg_stat_monitor_totals, added
# to by the worker after its exports) against the same added up afresh
# from all of history by pgsm_add_totals(NULL, NULL, NULL), column by
# column: "none", or each key and column that differ (a number by more
# than a relative 1e-9, as parts added in another order may).  The worker
# is asked to add what it exported first; then the exports and the totals
# are locked, so that no export or addition commits in between (a batch
# exported after the wait is added from history, by pgsm_fold_totals());
# the recomputation is rolled back.  Holds only if pg_stat_monitor_reset()
# has not emptied the totals since history began.
sub pgsm_totals_differences
{
	my ($node) = @_;
	my $key = q{jsonb_build_object('server_name', t.server_name, 'userid', t.userid,
	                               'dbid', t.dbid, 'toplevel', t.toplevel,
	                               'queryid', t.queryid)};
	pgsm_wait_totals($node) or return 'batches still pending';
	my $out = $node->safe_psql('postgres', qq(
		BEGIN;
		LOCK TABLE pg_stat_monitor_exports IN EXCLUSIVE MODE;
		SELECT pgsm_fold_totals();
		LOCK TABLE pg_stat_monitor_totals IN EXCLUSIVE MODE;
		CREATE TEMPORARY TABLE pgsm_kept ON COMMIT DROP AS
		    SELECT $key AS k, to_jsonb(t) AS j FROM pg_stat_monitor_totals t;
		DELETE FROM pg_stat_monitor_totals;
		SELECT pgsm_add_totals(NULL, NULL, NULL);
		SELECT 'differences: ' || coalesce(string_agg(d, '; ' ORDER BY d), 'none')
		FROM (SELECT DISTINCT concat_ws(' ', k, c.key, i.j -> c.key, 'against', r.j -> c.key) AS d
		      FROM pgsm_kept i
		      FULL JOIN (SELECT $key AS k, to_jsonb(t) AS j FROM pg_stat_monitor_totals t) r
		        USING (k)
		      LEFT JOIN LATERAL jsonb_each(coalesce(i.j, r.j)) c ON true
		      WHERE i.j IS NULL OR r.j IS NULL
		         OR NOT (c.value = r.j -> c.key
		                 OR (jsonb_typeof(c.value) = 'number'
		                     AND jsonb_typeof(r.j -> c.key) = 'number'
		                     AND abs(c.value::numeric - (r.j -> c.key)::numeric)
		                         <= 1e-9 * greatest(1, abs(c.value::numeric))))) x;
		ROLLBACK));
	return $out =~ /^differences: (.*)$/m ? $1 : "unreadable: $out";
}

1;
