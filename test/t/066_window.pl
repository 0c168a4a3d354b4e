# pg_stat_monitor.pgsm_max_buckets: without export the store keeps that many
# buckets, and the worker rotates older ones out; with export the
# materialized view pg_stat_monitor shows that many buckets of history, is
# refreshed once per bucket (not at every early export), and matches
# pg_stat_monitor_history for the buckets it shows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgsmTest;

my $nb = 3;
my $node = pgsm_node('window', bucket_time => 1, conf => qq(
pg_stat_monitor.pgsm_max_buckets = $nb
pg_stat_monitor.pgsm_enable_table_export = off
log_min_messages = debug1
));

# bucket_time is 1 s: a bucket is a second since the epoch
sub bucket_now
{
	return $node->safe_psql('postgres',
		'SELECT floor(extract(epoch FROM clock_timestamp()))::int8');
}

# Wait until bucket $b has ended, and return the bucket then current
sub after_bucket
{
	my ($b) = @_;
	$node->poll_query_until('postgres',
		"SELECT floor(extract(epoch FROM clock_timestamp()))::int8 > $b")
	  or die "bucket $b never ended";
	return bucket_now();
}

# --- without export: the store keeps the last $nb buckets --------------------

my @out = split /\n/, $node->safe_psql('postgres', q(
	SELECT 1 AS rotate_marker;
	SELECT bucket FROM pg_stat_monitor_live WHERE query = 'SELECT $1 AS rotate_marker'));
my $b = $out[-1];
like($b, qr/^\d+$/, 'a statement is recorded in its bucket');
my ($gone, $early) = pgsm_wait_rotated($node, 'postgres',
	'SELECT $1 AS rotate_marker', $b, $nb, 1);
ok($gone, 'without export, an old bucket leaves the store');
ok(!$early, "not before $nb buckets had begun since it");

# --- with export: the view's window ------------------------------------------

$node->append_conf('postgresql.conf',
	'pg_stat_monitor.pgsm_enable_table_export = on');
$node->reload;
$node->poll_query_until('postgres', 'SELECT exports > 0 FROM pg_stat_monitor_info')
  or die 'export did not start';
# pg_stat_monitor's columns (history has server_name besides)
my $columns = $node->safe_psql('postgres',
	"SELECT string_agg(quote_ident(name), ', ' ORDER BY position) FROM pgsm_view_columns()");

# One marker in each of 2 * $nb buckets; then one snapshot of the view and
# of history, taken while the view shows the last marker's bucket.  The
# view moves on at every bucket, so one session looks again and again,
# each time in one transaction that takes the snapshot when the bucket is
# there; on a loaded machine it may still look too late, when that bucket
# has left the view already: then it tries again with new markers.
my ($first, $last, $hist_buckets, $view_min, $view_max, $v_only, $h_only, $compared);
my $shown = 0;
my $both = $node->background_psql('postgres');
for my $round (1 .. 5)
{
	my $marker = "SELECT \$1 AS window_marker_$round";
	$b = bucket_now();
	for (1 .. 2 * $nb)
	{
		after_bucket($b);
		my $o = $node->safe_psql('postgres', qq(
			SELECT 1 AS window_marker_$round;
			SELECT coalesce(max(bucket), -1) FROM pg_stat_monitor_live
			WHERE query = '$marker'));
		$last = (split /\n/, $o)[-1];
		$b = bucket_now();
	}
	# (exported between the two statements: its bucket is not known)
	next if $last < 0;
	my $past = 'f';
	for (1 .. $PostgreSQL::Test::Utils::timeout_default * 10)
	{
		$both->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
		$shown = $both->query_safe(qq(
			SELECT count(*) FROM pg_stat_monitor WHERE query = '$marker' AND bucket = $last));
		if ($shown > 0)
		{
			($view_min, $view_max) = split /\|/, $both->query_safe(q(
				SELECT min(bucket), max(bucket) FROM pg_stat_monitor));
			# The markers' rows the view shows are those of history: each
			# marker ran just after a bucket began, and was exported at its
			# end, before the refresh that showed its bucket.
			($v_only, $h_only, $compared) = split /\|/, $both->query_safe(qq(
				WITH v AS (SELECT * FROM pg_stat_monitor WHERE query = '$marker'),
				     h AS (SELECT $columns FROM pg_stat_monitor_history
				           WHERE query = '$marker'
				             AND bucket IN (SELECT bucket FROM v))
				SELECT (SELECT count(*) FROM (TABLE v EXCEPT ALL TABLE h) x),
				       (SELECT count(*) FROM (TABLE h EXCEPT ALL TABLE v) x),
				       (SELECT count(*) FROM v)));
		}
		$past = $both->query_safe(qq(
			SELECT coalesce(min(bucket) > $last, false) FROM pg_stat_monitor));
		$both->query_safe('COMMIT');
		last if $shown > 0 || $past eq 't';
		usleep(50_000);
	}
	$node->poll_query_until('postgres', qq(
		SELECT sum(calls) = @{[ 2 * $nb ]} FROM pg_stat_monitor_history
		WHERE query = '$marker'))
	  or die 'the markers were not exported';
	($first, $hist_buckets) = split /\|/, $node->safe_psql('postgres', qq(
		SELECT min(bucket), count(DISTINCT bucket) FROM pg_stat_monitor_history
		WHERE query = '$marker'));
	last if $shown > 0;
	note "round $round: the view had moved past bucket $last when looked at";
}
$both->quit;
is($hist_buckets, 2 * $nb, 'history has a bucket for each marker');
ok($shown > 0, 'the view shows the last bucket once it has ended');
cmp_ok($view_max - $view_min, '<', $nb, "the view spans at most $nb buckets");
# The view keeps the buckets from pgsm_window_start() on: the bucket of the
# transaction's start and the $nb - 1 before it (buckets of one second)
is( $node->safe_psql('postgres', qq(
	SELECT pgsm_window_start()
	     = to_timestamp(floor(extract(epoch FROM now())) - $nb + 1))),
	't', "the window is the bucket in progress and the @{[ $nb - 1 ]} before it");
cmp_ok($view_min, '>', $first, 'the oldest buckets have left the view');
is("$v_only|$h_only", '0|0', 'the view matches history for the buckets it shows');
cmp_ok($compared, '>', 0, "$compared rows compared");

# --- the refresh: once per bucket, not at each early export ------------------

my $refresh = qr/starting background worker process "pg_stat_monitor refresh"/;
my $offset = -s $node->logfile;
my $start = bucket_now();
for my $i (1 .. 10)
{
	my $exports = $node->safe_psql('postgres',
		"SELECT 1 AS flush_marker_$i; SELECT exports FROM pg_stat_monitor_info");
	$exports = (split /\n/, $exports)[-1];
	$node->safe_psql('postgres', 'SELECT pg_stat_monitor_flush()');
	$node->poll_query_until('postgres',
		"SELECT exports > $exports FROM pg_stat_monitor_info")
	  or die 'no early export';
}
after_bucket($start + 2);
my $end = bucket_now();
# the refresh of the bucket that just began may not have started yet
$node->poll_query_until('postgres', qq(
	SELECT count(*) > 0 FROM pg_stat_monitor WHERE bucket >= $end - 1))
  or die 'no refresh';
$end = bucket_now();
my $refreshes = () = slurp_file($node->logfile, $offset) =~ /$refresh/g;
my $boundaries = $end - $start;
note "$refreshes refreshes over $boundaries bucket boundaries and 10 early exports";
cmp_ok($refreshes, '>=', 1, 'the view is refreshed');
cmp_ok($refreshes, '<=', $boundaries + 1, 'at most once per bucket, early exports or not');

is($node->safe_psql('postgres', 'SELECT export_failures FROM pg_stat_monitor_info'),
	'0', 'no export failed');
$node->stop;
done_testing();
