# The disk that holds history fills up: the worker's exports fail with a
# WARNING and a count in pg_stat_monitor_info, statements keep running,
# the statistics stay in shared memory, and once there is room again they
# are all exported, each once.
#
# History lives in database hist, made in a tablespace on a small tmpfs of
# its own (scripts/test.sh mounts it and names it in PGSM_SMALL_DISK); a
# table is grown there until the filesystem is full.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $small_disk = $ENV{PGSM_SMALL_DISK};
plan skip_all => 'PGSM_SMALL_DISK names no filesystem to fill (scripts/test.sh mounts one)'
  unless $small_disk && -d $small_disk && -w $small_disk;

# autovacuum off: it would give the full table's pages back by itself
my $node = pgsm_node('full_disk', bucket_time => 2, no_extension => 1,
	conf => qq(
pg_stat_monitor.pgsm_database = 'hist'
autovacuum = off
));
$node->safe_psql('postgres', qq(CREATE TABLESPACE small LOCATION '$small_disk'));
$node->safe_psql('postgres', 'CREATE DATABASE hist TABLESPACE small');
$node->safe_psql('hist', 'CREATE EXTENSION pg_stat_monitor');
$node->poll_query_until('hist', 'SELECT exports > 0 FROM pg_stat_monitor_info')
  or die 'the worker did not export to hist';

# Calls of the marker statement: (in history, in the store)
sub marker_calls
{
	return $node->safe_psql('hist', q(
		SELECT (SELECT coalesce(sum(e.calls), 0) FROM pg_stat_monitor_entries e
		        JOIN pg_stat_monitor_texts t ON t.text_id = e.query_text_id
		        WHERE t.text = 'SELECT $1 AS full_disk_marker'),
		       (SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_live
		        WHERE query = 'SELECT $1 AS full_disk_marker')));
}

# fill the filesystem: the insert fails, and the pages it added stay.  (In
# small steps: a large generate_series() would spill to a temporary file in
# the same tablespace, which goes when the insert fails.)
$node->safe_psql('hist', 'CREATE TABLE filler (x text)');
my ($ret, $out, $err) = $node->psql('hist', q(
	DO $$
	BEGIN
		LOOP
			INSERT INTO filler SELECT repeat(md5(i::text), 30) FROM generate_series(1, 100) i;
		END LOOP;
	END
	$$));
isnt($ret, 0, 'the filler fails once the disk is full');
like($err, qr/No space left on device/, 'for want of space');

# distinct statements enough to need new pages (the pages history has may
# have room for a few rows), and a marker
my ($flood, $nflood) = pgsm_flood_file($node, 18);
my $failures = $node->safe_psql('hist', 'SELECT export_failures FROM pg_stat_monitor_info');
my $log_offset = -s $node->logfile;
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
	'-f', $flood, '-o', '/dev/null' ], 'distinct statements run');
$node->safe_psql('postgres', 'SELECT 1 AS full_disk_marker') for 1 .. 10;
$node->safe_psql('hist', 'SELECT pg_stat_monitor_flush()');
$node->wait_for_log(
	qr/WARNING:  pg_stat_monitor worker could not export statistics: .*No space left on device/,
	$log_offset);
pass('the worker says in the log that it could not export, and why');
ok( $node->poll_query_until('hist', qq(
		SELECT export_failures > $failures AND last_error LIKE '%No space left on device%'
		FROM pg_stat_monitor_info)),
	'pg_stat_monitor_info counts the failures and shows the error');
is(marker_calls(), '0|10', 'the calls stay in shared memory');
$node->safe_psql('postgres', 'SELECT 1 AS full_disk_marker') for 1 .. 5;
is(marker_calls(), '0|15', 'statements run and are counted while the disk is full');

# room again: the dropped table's file is truncated at commit
$node->safe_psql('hist', 'DROP TABLE filler');
ok( $node->poll_query_until('hist', q(
		SELECT (SELECT count(*) FROM (SELECT pg_stat_monitor_flush()) f) = 1
		   AND count(*) = 0
		FROM pg_stat_monitor_live WHERE query = 'SELECT $1 AS full_disk_marker')),
	'export resumes once there is room');
is(marker_calls(), '15|0', 'every call is in history, once');
is( $node->safe_psql('hist', q(
		SELECT sum(e.calls) FROM pg_stat_monitor_entries e
		JOIN pg_stat_monitor_texts t ON t.text_id = e.query_text_id
		WHERE t.text ~ '^SELECT c[0-9]+, c[0-9]+ FROM w$')),
	$nflood, 'so is every call of the distinct statements');
is( $node->safe_psql('hist', q(
		SELECT count(*) = count(DISTINCT batch_id) FROM pg_stat_monitor_exports)),
	't', 'no batch was written twice');

$node->stop;
done_testing();
