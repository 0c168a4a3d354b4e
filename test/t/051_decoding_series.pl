# When the counters of a replication slot restart, the history starts a new
# series instead of showing a negative or inflated delta: after a reset, a
# slot dropped and re-created, and a crash.  Also: retries and late calls of
# pgsm_snapshot_decoding, an idle slot, a clean restart, a standby,
# privileges, and an upgrade from 2.2 against a fresh install of the default
# version.
#
# The worker's export is off here, so it takes no snapshot: the test takes
# them itself, which makes each bucket hold exactly what the test did.  It
# is turned on for the standby's part, at the end.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 'logical');
$node->append_conf('postgresql.conf', q(
shared_preload_libraries = 'pg_stat_monitor'
pg_stat_monitor.pgsm_bucket_time = 1
pg_stat_monitor.pgsm_enable_table_export = off
logical_decoding_work_mem = 64kB
autovacuum = off
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE TABLE big (a int, b text)');

my $next = 0;

# Take a snapshot, for a bucket after the last one; return that bucket
sub snap
{
	$next++;
	return $node->safe_psql('postgres', qq(
		SELECT s::text FROM (SELECT date_trunc('second', now()) + interval '$next s' AS s) x,
		       LATERAL pgsm_snapshot_decoding(x.s)));
}

# Write $n large transactions and decode them through slot "dec"
sub spill
{
	my ($n) = @_;
	for (1 .. $n)
	{
		$node->safe_psql('app',
			"INSERT INTO big SELECT g, 'spill' FROM generate_series(1, 3000) g");
	}
	$node->safe_psql('app',
		"SELECT count(*) FROM pg_logical_slot_get_changes('dec', NULL, NULL)");
}

# slot "dec" in pg_stat_replication_slots, and its delta in bucket $bk
sub server
{
	return $node->safe_psql('postgres', q(
		SELECT spill_txns, spill_count, spill_bytes, total_txns, total_bytes
		FROM pg_stat_replication_slots WHERE slot_name = 'dec'));
}

sub delta
{
	my ($bk, $slot) = @_;
	$slot //= 'dec';
	return $node->safe_psql('postgres', qq(
		SELECT coalesce(new_series, '-'), spill_txns, spill_count, spill_bytes,
		       total_txns, total_bytes
		FROM pg_stat_monitor_slot_deltas
		WHERE slot_name = '$slot' AND bucket_start_time = '$bk'));
}

# Write a small transaction and decode it through slot "dec"
sub small
{
	$node->safe_psql('app', "INSERT INTO big VALUES (0, 'small')");
	$node->safe_psql('app',
		"SELECT count(*) FROM pg_logical_slot_get_changes('dec', NULL, NULL)");
}

# Drop slot "dec" and create it again
sub recreate
{
	my ($two_phase) = @_;
	$node->safe_psql('app', qq(
		SELECT pg_drop_replication_slot('dec');
		SELECT pg_create_logical_replication_slot('dec', 'test_decoding', false, $two_phase);));
}

# --- no slots; retries and late calls --------------------------------------

my $bk = snap();
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_decoding_snapshots)),
	'1', 'a snapshot with no slots');
$node->safe_psql('postgres', "SELECT pgsm_snapshot_decoding('$bk')");
$node->safe_psql('postgres',
	"SELECT pgsm_snapshot_decoding('$bk'::timestamptz - interval '1 hour')");
$node->safe_psql('postgres', 'SELECT pgsm_snapshot_decoding(NULL)');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_decoding_snapshots)),
	'1', 'a retry, an out-of-order bucket and NULL are ignored');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_slot_history)),
	'0', 'no slot, no slot row');

# --- new slots, an idle one ------------------------------------------------

$node->safe_psql('app', q(
	SELECT pg_create_logical_replication_slot('idle', 'pgoutput');
	SELECT pg_create_logical_replication_slot('dec', 'test_decoding');));
$bk = snap();
is(delta($bk), 'slot created|0|0|0|0|0', 'a new slot starts a series');
spill(1);
my $srv = server();
$bk = snap();
like($srv, qr/^1\|[2-9]\d*\|/, 'the server counted one spilled transaction, several spills');
is(delta($bk), "-|$srv", 'its delta is what the server counted');
is(delta($bk, 'idle'), '-|0|0|0|0|0', 'an idle slot shows zero deltas');

# --- a clean restart keeps the series --------------------------------------

$node->restart;
$bk = snap();
is(delta($bk), '-|0|0|0|0|0', 'a clean restart keeps the counters and the series');

# --- dropped and re-created ------------------------------------------------

recreate('false');
small();
$srv = server();
$bk = snap();
is(delta($bk), "counters went down|$srv",
	're-created alike with less activity: counters went down, new series');

recreate('true');
spill(2);
$srv = server();
$bk = snap();
is(delta($bk), "slot re-created|$srv",
	're-created with other options and more activity: new series');

# re-created alike, with more activity than before: it cannot be told from
# the old slot, so the series goes on and the delta is the new slot's
# counters less the old one's, between zero and what the new slot did
my @old = split /\|/, $srv;
recreate('true');
spill(3);
$srv = server();
$bk = snap();
my @s = split /\|/, $srv;
ok(!grep({ $s[$_] < $old[$_] } 0 .. $#s),
	'the new slot did more than the old one, counter by counter');
is(delta($bk), join('|', '-', map { $s[$_] - $old[$_] } 0 .. $#s),
	're-created alike: the series goes on, the delta is the difference');
my @d = split /\|/, delta($bk);
is(scalar(@d), 1 + scalar(@s), 're-created alike: the bucket has its row');
ok(!grep({ $d[ $_ + 1 ] < 0 || $d[ $_ + 1 ] > $s[$_] } 0 .. $#s),
	're-created alike: deltas between zero and what the slot did');

# --- reset -----------------------------------------------------------------

$node->safe_psql('postgres', "SELECT pg_stat_reset_replication_slot('dec')");
small();
$srv = server();
$bk = snap();
is(delta($bk), "statistics reset|$srv", 'a reset: new series, counted from zero');

# a slot re-created after a reset has no stats_reset any more
spill(1);
snap();
recreate('true');
small();
$srv = server();
$bk = snap();
is(delta($bk), "slot re-created|$srv",
	're-created after a reset: new series');

# --- crash -----------------------------------------------------------------

spill(2);
snap();
my @before = split /\|/, server();
$node->stop('immediate');
$node->start;
spill(3);
$srv = server();
$bk = snap();
my @after = split /\|/, $srv;
ok(!grep({ $after[$_] < $before[$_] } 0 .. $#before),
	'after the crash the counters passed their old values');
is(delta($bk), "statistics lost|$srv",
	'statistics lost in a crash: new series, counted from zero');

is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_stat_monitor_slot_deltas
	WHERE least(spill_txns, spill_count, spill_bytes, stream_txns,
	            stream_count, stream_bytes, total_txns, total_bytes) < 0)),
	'0', 'no negative delta anywhere in the history');

# --- privileges ------------------------------------------------------------

$node->safe_psql('postgres', q(
	CREATE ROLE plain LOGIN;
	CREATE ROLE reader LOGIN IN ROLE pg_read_all_stats;));
for my $obj (qw(pg_stat_monitor_slot_history pg_stat_monitor_slot_deltas
	pg_stat_monitor_subscription_deltas pg_stat_monitor_decoding_advice))
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT count(*) FROM $obj", extra_params => [ '-U', 'plain' ]);
	like($err, qr/permission denied/, "PUBLIC may not read $obj");
	($ret, $out, $err) = $node->psql('postgres',
		"SELECT count(*) >= 0 FROM $obj", extra_params => [ '-U', 'reader' ]);
	is($out, 't', "pg_read_all_stats may read $obj");
}
my ($ret, $out, $err) = $node->psql('postgres',
	'SELECT pgsm_snapshot_decoding(now())', extra_params => [ '-U', 'reader' ]);
like($err, qr/permission denied/, 'only superusers take snapshots');

# --- a standby -------------------------------------------------------------

# The primary's worker now takes a snapshot at every bucket; the standby's
# worker runs with export on too, and keeps three buckets in its store.
$node->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'bk', has_streaming => 1);
$standby->append_conf('postgresql.conf', q(
pg_stat_monitor.pgsm_enable_table_export = on
pg_stat_monitor.pgsm_max_buckets = 3
));
$standby->start;
$node->append_conf('postgresql.conf',
	'pg_stat_monitor.pgsm_enable_table_export = on');
$node->reload;
$node->wait_for_catchup($standby);
($ret, $out, $err) = $standby->psql('postgres',
	'SELECT pgsm_snapshot_decoding(now())');
is($ret, 0, 'a standby: pgsm_snapshot_decoding returns quietly');
is($err, '', 'a standby: not a word');

# The standby's worker runs its cycles: a statement recorded there is
# rotated out of its store three buckets later, which only the worker does.
my $mark = $standby->safe_psql('postgres', 'SELECT clock_timestamp()');
my @out = split /\n/, $standby->safe_psql('postgres', q(
	SELECT 1 AS standby_marker;
	SELECT sum(calls) FROM pg_stat_monitor_live WHERE query = 'SELECT $1 AS standby_marker'));
is($out[-1], '1', 'a standby records statements');
ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) > 0 FROM pg_stat_monitor_decoding_snapshots
	WHERE taken_at > '$mark')),
	"the primary's worker takes snapshots, past the buckets taken by hand");
ok( $standby->poll_query_until('postgres', q(
	SELECT count(*) = 0 FROM pg_stat_monitor_live WHERE query = 'SELECT $1 AS standby_marker')),
	"a standby: its worker ran its cycles, rotating the store");

# Meanwhile the primary's worker took snapshots (after the buckets the test
# took by hand); the standby has exactly the primary's, none of its own.
# Snapshots are compared up to a time after which the primary has taken one
# more, so that all those compared are committed, and replayed.
my $cut = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
ok( $node->poll_query_until('postgres', qq(
	SELECT count(*) > 0 FROM pg_stat_monitor_decoding_snapshots
	WHERE taken_at > '$cut')),
	"the primary's worker takes one more");
$node->wait_for_catchup($standby);
my $snapshots = qq(
	SELECT count(*) FILTER (WHERE taken_at > '$mark'),
	       string_agg(bucket_start_time || ' ' || taken_at, ', '
	                  ORDER BY bucket_start_time)
	FROM pg_stat_monitor_decoding_snapshots WHERE taken_at <= '$cut');
my $on_primary = $node->safe_psql('postgres', $snapshots);
is($standby->safe_psql('postgres', $snapshots), $on_primary,
	"a standby has the primary's snapshots and takes none of its own");
like($on_primary, qr/^[1-9]\d*\|/,
	'the primary took snapshots while the standby ran its cycles');
ok( $standby->safe_psql('postgres',
		'SELECT count(*) FROM pg_stat_monitor_slot_deltas') > 0,
	'a standby reads the history');
is($standby->safe_psql('postgres', 'SELECT exports, export_failures FROM pg_stat_monitor_info'),
	'0|0', 'a standby: its worker exported nothing and failed nothing');
ok(!$standby->log_contains('pg_stat_monitor worker could not'),
	'a standby: nothing in the log');
unlike(slurp_file($standby->logfile), qr/(ERROR|WARNING|FATAL):.*(pg_stat_monitor|pgsm_|read-only)/,
	'a standby: no error about pg_stat_monitor in its log');
$standby->stop;

# --- an upgrade from 2.2 gives what a fresh install does ---------------------

my $members = q(
	SELECT pg_describe_object(d.classid, d.objid, 0) || ' ' || coalesce(
	    CASE d.classid
	        WHEN 'pg_class'::regclass THEN
	            (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	                               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
	                               ', ' ORDER BY a.attnum)
	             FROM pg_attribute a
	             WHERE a.attrelid = d.objid AND a.attnum > 0 AND NOT a.attisdropped)
	            || coalesce(' ' || pg_get_viewdef(d.objid), '')
	            || coalesce(' ' || (SELECT relacl::text FROM pg_class WHERE oid = d.objid), '')
	        WHEN 'pg_proc'::regclass THEN
	            (SELECT CASE WHEN p.prokind = 'a' THEN '' ELSE pg_get_functiondef(p.oid) END
	                    || coalesce(' ' || p.proacl::text, '')
	             FROM pg_proc p WHERE p.oid = d.objid)
	    END, '')
	FROM pg_depend d
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_stat_monitor')
	ORDER BY 1);
$node->safe_psql('postgres', 'CREATE DATABASE up');
$node->safe_psql('up', q(
	CREATE EXTENSION pg_stat_monitor VERSION '2.2';
	ALTER EXTENSION pg_stat_monitor UPDATE;));
is($node->safe_psql('up', $members), $node->safe_psql('postgres', $members),
	'2.2 updated to the default version has the objects of a fresh install');
$node->safe_psql('up', 'SELECT pgsm_snapshot_decoding(now())');
is( $node->safe_psql('up', q(
	SELECT count(*) FROM pg_stat_monitor_slot_history)),
	'2', 'the updated extension takes snapshots');

ok(!$node->log_contains('pg_stat_monitor worker could not'),
	'primary: nothing in the log from the worker');

done_testing();
