# History of logical decoding statistics, taken by the worker at every
# bucket boundary: a publisher (logical_decoding_work_mem = 64kB) feeds two
# subscriptions, one with streaming = off and one with streaming = on (a
# third, made without the option, checks PostgreSQL 18's default), and
# the history must show a large transaction as spilled on the first and
# streamed on the second, in the bucket where it happened, a small one as
# neither, and a slot reset as a new series rather than a negative delta.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $bucket_time = 2;
my @slots = qw(sub_off sub_on);
my @counters = qw(spill_txns spill_count spill_bytes stream_txns
  stream_count stream_bytes total_txns total_bytes);

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_stat_monitor'
pg_stat_monitor.pgsm_bucket_time = $bucket_time
logical_decoding_work_mem = 64kB
# nothing but the test may write to the published database
autovacuum = off
));
$pub->start;
$pub->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');

my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_stat_monitor'
pg_stat_monitor.pgsm_bucket_time = $bucket_time
wal_retrieve_retry_interval = 200ms
));
$sub->start;
$sub->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');

# Wait until the worker of $node has taken a snapshot that began after this
# call, and return its bucket.  Doing something right after this leaves
# nearly a whole bucket for it to happen in.
sub next_snapshot
{
	my ($node) = @_;
	my $mark = $node->safe_psql('postgres', 'SELECT clock_timestamp()');

	$node->poll_query_until('postgres', qq(
		SELECT count(*) > 0 FROM pg_stat_monitor_decoding_snapshots
		WHERE taken_at > '$mark'))
	  or die "no snapshot taken after $mark";
	return $node->safe_psql('postgres',
		'SELECT max(bucket_start_time) FROM pg_stat_monitor_decoding_snapshots');
}

# The counters of a slot in pg_stat_replication_slots, as a hash
sub server_counters
{
	my ($slot) = @_;
	my $row = $pub->safe_psql('postgres', sprintf(
		"SELECT %s FROM pg_stat_replication_slots WHERE slot_name = '%s'",
		join(', ', @counters), $slot));
	my %h;
	@h{@counters} = split /\|/, $row;
	return \%h;
}

# The counters of all slots, before and after some work, with the buckets
# that hold it: ($first, $last], the worker's snapshots around it.
sub around
{
	my ($work) = @_;
	my %r;

	$r{first} = next_snapshot($pub);
	$r{before} = { map { $_ => server_counters($_) } @slots };
	$r{t0} = $pub->safe_psql('postgres', 'SELECT clock_timestamp()');
	$work->();
	$pub->wait_for_catchup($_) for @slots;
	$r{t1} = $pub->safe_psql('postgres', 'SELECT clock_timestamp()');
	$r{after} = { map { $_ => server_counters($_) } @slots };
	$r{last} = next_snapshot($pub);
	return \%r;
}

# Sums of the deltas of a slot over the buckets in ($first, $last]
sub history_sums
{
	my ($slot, $r) = @_;
	my $row = $pub->safe_psql('postgres', sprintf(q(
		SELECT %s FROM pg_stat_monitor_slot_deltas
		WHERE slot_name = '%s'
		  AND bucket_start_time > '%s' AND bucket_start_time <= '%s'),
		join(', ', map { "coalesce(sum($_), 0)" } @counters),
		$slot, $r->{first}, $r->{last}));
	my %h;
	@h{@counters} = split /\|/, $row;
	return \%h;
}

sub server_deltas
{
	my ($slot, $r) = @_;
	return { map { $_ => $r->{after}{$slot}{$_} - $r->{before}{$slot}{$_} }
		  @counters };
}

# --- an idle server: snapshots, and nothing else ---------------------------

next_snapshot($pub) for 1 .. 2;
is( $pub->safe_psql('postgres', q(
	SELECT (SELECT count(*) FROM pg_stat_monitor_slot_history)
	     + (SELECT count(*) FROM pg_stat_monitor_subscription_history)
	     + (SELECT count(*) FROM pg_stat_monitor_decoding_advice))),
	'0', 'no slot and no subscription: snapshots only');
is( $pub->safe_psql('postgres', q(
	SELECT logical_decoding_work_mem FROM pg_stat_monitor_decoding_snapshots
	ORDER BY bucket_start_time DESC LIMIT 1)),
	'65536', 'the snapshot records logical_decoding_work_mem');

# --- replication -----------------------------------------------------------

$pub->safe_psql('postgres', 'CREATE DATABASE app');
$pub->safe_psql('app', q(
	CREATE TABLE tab (a int PRIMARY KEY, b text);
	CREATE PUBLICATION pub FOR TABLE tab;));
my $connstr = $pub->connstr . ' dbname=app';
for my $mode (qw(off on))
{
	$sub->safe_psql('postgres', "CREATE DATABASE sub_$mode");
	$sub->safe_psql("sub_$mode", 'CREATE TABLE tab (a int PRIMARY KEY, b text)');
	$sub->safe_psql("sub_$mode", qq(
		CREATE SUBSCRIPTION sub_$mode CONNECTION '$connstr'
		PUBLICATION pub WITH (streaming = $mode)));
	$sub->wait_for_subscription_sync($pub, "sub_$mode", "sub_$mode");
}

# a small transaction: decoded, neither spilled nor streamed
my $small = around(sub {
	$pub->safe_psql('app',
		"INSERT INTO tab SELECT g, 'small' FROM generate_series(1, 10) g");
});
for my $slot (@slots)
{
	my $h = history_sums($slot, $small);
	my $s = server_deltas($slot, $small);
	is_deeply($h, $s, "$slot: small transaction, history equals the server's view");
	ok( $h->{total_txns} >= 1 && $h->{total_bytes} > 0
		  && $h->{spill_txns} == 0 && $h->{stream_txns} == 0,
		"$slot: small transaction decoded, neither spilled nor streamed");
}

# a large transaction, far above 64kB: spilled with streaming = off,
# streamed with streaming = on
my $large = around(sub {
	$pub->safe_psql('app',
		"INSERT INTO tab SELECT g, 'large' FROM generate_series(1001, 6000) g");
});
for my $slot (@slots)
{
	my $h = history_sums($slot, $large);
	my $s = server_deltas($slot, $large);
	is_deeply($h, $s, "$slot: large transaction, history equals the server's view");
}

# The transaction spilled (or streamed) in a bucket whose interval meets
# the time the work took: once, unless the walsender restarted and decoded
# it again (on a loaded machine; the server then counts it again, in the
# bucket of the restart).  Its events and bytes may fall in more than one
# bucket, when a boundary passed while it was decoded, so they are added
# up over the buckets around the work.
my %kind = (sub_off => 'spill', sub_on => 'stream');
for my $slot (@slots)
{
	my $k = $kind{$slot};
	my $other = $k eq 'spill' ? 'stream' : 'spill';
	my $window = qq(slot_name = '$slot'
		  AND bucket_start_time > '$large->{first}'
		  AND bucket_start_time <= '$large->{last}');
	my $rows = $pub->safe_psql('postgres', qq(
		SELECT ${k}_txns, interval_start < '$large->{t1}' AND interval_end > '$large->{t0}'
		FROM pg_stat_monitor_slot_deltas
		WHERE $window AND ${k}_txns > 0
		ORDER BY bucket_start_time));
	my @rows = split /\n/, $rows;
	cmp_ok(scalar(@rows), '>=', 1, "$slot: a bucket holds the ${k}ed transaction");
	my $txns = 0;
	$txns += (split /\|/)[0] for @rows;
	my $in_bucket = (split /\|/, $rows[0] // '')[1];
	is($txns, server_deltas($slot, $large)->{"${k}_txns"},
		"$slot: ${k}ed transactions as the server counted them");
	is($in_bucket, 't', "$slot: counted in a bucket that meets the insert");
	my ($count, $bytes, $other_txns) = split /\|/, $pub->safe_psql('postgres', qq(
		SELECT sum(${k}_count), sum(${k}_bytes), sum(${other}_txns)
		FROM pg_stat_monitor_slot_deltas WHERE $window));
	cmp_ok($count, '>=', 2, "$slot: several $k events");
	is($count, server_deltas($slot, $large)->{"${k}_count"},
		"$slot: $k events as the server counted them");
	is($bytes, server_deltas($slot, $large)->{"${k}_bytes"},
		"$slot: ${k}ed bytes as the server counted them");
	is($other_txns, 0, "$slot: nothing ${other}ed");
}

# the advice over the large transaction's buckets
my $advice = $pub->safe_psql('postgres', qq(
	SELECT slot_name, spilled_pct >= 50, streamed_pct >= 50,
	       hint LIKE '%spilled to disk%logical_decoding_work_mem%streaming = on%',
	       hint LIKE '%streamed before commit%logical_decoding_work_mem%'
	FROM pg_stat_monitor_decoding_advice('$large->{first}', '$large->{last}'::timestamptz + interval '1 us')
	ORDER BY slot_name));
is($advice, "sub_off|t|f|t|f\nsub_on|f|t|f|t",
	'advice: spilled share and hint for streaming = off, streamed for streaming = on');
is( $pub->safe_psql('postgres', qq(
	SELECT count(*) FROM pg_stat_monitor_decoding_advice('$small->{first}', '$small->{last}'::timestamptz + interval '1 us')
	WHERE hint IS NULL AND spilled_pct = 0 AND streamed_pct = 0)),
	'2', 'advice: no hint for small transactions');

# --- a reset in the middle of the history ----------------------------------

my $reset = around(sub {
	$pub->safe_psql('postgres', "SELECT pg_stat_reset_replication_slot('sub_off')");
	$pub->safe_psql('app',
		"INSERT INTO tab SELECT g, 'after reset' FROM generate_series(10001, 10005) g");
});
my $later = around(sub {
	$pub->safe_psql('app',
		"INSERT INTO tab SELECT g, 'later' FROM generate_series(20001, 20005) g");
});

is( $pub->safe_psql('postgres', qq(
	SELECT bool_and(n.total_bytes < o.total_bytes AND n.spill_bytes < o.spill_bytes)
	FROM pg_stat_monitor_slot_history n
	JOIN pg_stat_monitor_slot_history o USING (slot_name)
	WHERE slot_name = 'sub_off'
	  AND n.bucket_start_time = '$reset->{last}'
	  AND o.bucket_start_time = '$reset->{first}')),
	't', 'after the reset the running totals are lower than before');
is( $pub->safe_psql('postgres', qq(
	SELECT string_agg(coalesce(new_series, '-'), ',' ORDER BY bucket_start_time)
	FROM pg_stat_monitor_slot_deltas
	WHERE slot_name = 'sub_off' AND bucket_start_time > '$reset->{first}'
	  AND bucket_start_time <= '$later->{last}'
	  AND new_series IS NOT NULL)),
	'statistics reset', 'the reset starts a new series, once');
my $h = history_sums('sub_off', $reset);
is($h->{total_txns}, $reset->{after}{sub_off}{total_txns},
	'the series after the reset counts from zero');
is($h->{total_bytes}, $reset->{after}{sub_off}{total_bytes},
	'bytes after the reset as the server counted them');
is_deeply(history_sums('sub_off', $later), server_deltas('sub_off', $later),
	'the new series goes on like the old one');
is( $pub->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_slot_deltas
	WHERE least(spill_txns, spill_count, spill_bytes, stream_txns,
	            stream_count, stream_bytes, total_txns, total_bytes) < 0)),
	'0', 'no negative delta anywhere in the history');
is( $pub->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_slot_deltas
	WHERE spill_bytes_per_sec < 0 OR total_bytes_per_sec < 0 OR seconds <= 0)),
	'0', 'no negative rate');

# --- the subscriber's side -------------------------------------------------

# an apply error on sub_off: a row that is already there
$sub->safe_psql('sub_off', "INSERT INTO tab VALUES (30001, 'in the way')");
my $sub_first = next_snapshot($sub);
$pub->safe_psql('app', "INSERT INTO tab VALUES (30001, 'conflict')");
$sub->poll_query_until('postgres', q(
	SELECT apply_error_count > 0 FROM pg_stat_subscription_stats
	WHERE subname = 'sub_off'))
  or die 'no apply error';
$sub->safe_psql('sub_off', 'DELETE FROM tab WHERE a = 30001');
$pub->wait_for_catchup('sub_off');
my $errors = $sub->safe_psql('postgres', q(
	SELECT apply_error_count FROM pg_stat_subscription_stats
	WHERE subname = 'sub_off'));
my $sub_last = next_snapshot($sub);

is( $sub->safe_psql('postgres', qq(
	SELECT subname, streaming, sum(apply_error_count), sum(sync_error_count),
	       bool_and(new_series IS NULL)
	FROM pg_stat_monitor_subscription_deltas
	WHERE bucket_start_time > '$sub_first' AND bucket_start_time <= '$sub_last'
	GROUP BY subname, streaming ORDER BY subname)),
	"sub_off|off|$errors|0|t\nsub_on|on|0|0|t",
	'subscriber: apply errors per bucket add up to the server\'s count');

# PostgreSQL 18 also counts the conflict behind that error (a row already
# there: insert_exists); the history records its counters there, NULL before
my $v18 = $sub->safe_psql('postgres', 'SHOW server_version_num') >= 180000;
my $conflicts = $v18 ? $sub->safe_psql('postgres', q(
	SELECT confl_insert_exists FROM pg_stat_subscription_stats
	WHERE subname = 'sub_off')) : '';
ok(!$v18 || $conflicts > 0, 'PostgreSQL 18 counted the conflict');
is( $sub->safe_psql('postgres', qq(
	SELECT sum(confl_insert_exists),
	       bool_and(confl_update_missing IS NOT NULL
	                AND confl_multiple_unique_conflicts IS NOT NULL)
	FROM pg_stat_monitor_subscription_deltas
	WHERE bucket_start_time > '$sub_first' AND bucket_start_time <= '$sub_last'
	  AND subname = 'sub_off')),
	$v18 ? "$conflicts|t" : '|f',
	'subscriber: conflicts per bucket add up to the server\'s count (18), NULL before');

# A subscription made without the option streams as the version has it by
# default: off up to 17, parallel from 18 on; the history says which
$sub->safe_psql('sub_off', qq(
	CREATE SUBSCRIPTION sub_default CONNECTION '$connstr' PUBLICATION pub
	WITH (connect = false, enabled = false, create_slot = false, slot_name = NONE)));
my $default_taken = next_snapshot($sub);
is( $sub->safe_psql('postgres', qq(
	SELECT streaming FROM pg_stat_monitor_subscription_history
	WHERE subname = 'sub_default' AND bucket_start_time = '$default_taken')),
	$v18 ? 'parallel' : 'off',
	'a subscription made with the default streaming is recorded as such');
$sub->safe_psql('sub_off', 'DROP SUBSCRIPTION sub_default');

# --- no noise --------------------------------------------------------------

for my $node ($pub, $sub)
{
	is($node->safe_psql('postgres', 'SELECT export_failures FROM pg_stat_monitor_info'),
		'0', $node->name . ': the worker never failed');
	ok(!$node->log_contains('could not record logical decoding statistics'),
		$node->name . ': nothing about decoding statistics in the log');
	# a snapshot is taken after its bucket has ended, however late
	my ($early, $all) = split /\|/, $node->safe_psql('postgres', qq(
		SELECT count(*) FILTER (WHERE taken_at < bucket_start_time + interval '$bucket_time s'),
		       count(*)
		FROM pg_stat_monitor_decoding_snapshots));
	cmp_ok($all, '>', 0, $node->name . ": $all snapshots");
	is($early, 0, $node->name . ': each is filed under a bucket that had ended when it was taken');
}

done_testing();
