# The HTML reports of a demo workload, rendered by headless Chromium: every
# section is there, every chart is drawn at its size with marks in it (in the
# DOM, measured by a probe of the test's own, and in the pixels of a
# screenshot), and the page logs nothing: no error, no refused load.  The
# diff report of two halves of the workload shows the statements that are
# new and gone.  PGSM_REPORT_SHOT=file.png keeps the screenshot (the README's
# picture is made so).
use strict;
use warnings;

use File::Copy qw(copy);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;
use PgsmReport;

my $bucket_time = 2;
my $node = pgsm_node('report',
	bucket_time => $bucket_time,
	init => { allows_streaming => 'logical' },
	conf => qq(
logical_decoding_work_mem = 64kB
pg_stat_monitor.pgsm_enable_query_plan = on
));

# A range of 200 whole buckets (at most 240 get a bar each) that ends well
# after the workload: the charts have one bar per bucket, the sparklines
# one point per bucket.
my $buckets = 200;
my $since = $node->safe_psql('postgres', qq(
	SELECT to_timestamp(floor(extract(epoch FROM now()) / $bucket_time) * $bucket_time
	                    - 20 * $bucket_time)));
my $until = $node->safe_psql('postgres',
	"SELECT '$since'::timestamptz + interval '@{[$buckets * $bucket_time]} seconds'");

# --- the workload: two phases, for the diff report --------------------------

$node->safe_psql('postgres', q(
	SELECT pg_create_logical_replication_slot('report_slot', 'test_decoding');
	CREATE TABLE big (a int, b text);));
$node->command_ok([ 'pgbench', '-i', '-q', '-s', '1', 'postgres' ], 'pgbench -i');

# phase 1: pgbench, errors, a statement with two plans, a large transaction
# that logical decoding spills
$node->command_ok([ 'pgbench', '-c', '2', '-T', '4', 'postgres' ], 'pgbench, phase 1');
$node->psql('postgres', 'SELECT 1 / 0') for 1 .. 3;
$node->psql('postgres', 'SELECT * FROM no_such_table');
# (the same statement, with the index and without: two plans)
$node->safe_psql('postgres', q(
	SELECT count(*) FROM pgbench_accounts WHERE aid < 10;
	SET enable_indexscan = off;
	SET enable_indexonlyscan = off;
	SET enable_bitmapscan = off;
	SELECT count(*) FROM pgbench_accounts WHERE aid < 90000;
	SELECT 1 AS only_in_phase_one;));
$node->safe_psql('postgres', q(
	INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
	SELECT count(*) FROM pg_logical_slot_get_changes('report_slot', NULL, NULL);));
pgsm_wait_exported($node, '%only_in_phase_one%') or die 'phase 1 not exported';
my $mid = $node->safe_psql('postgres', qq(
	SELECT to_timestamp(ceil(extract(epoch FROM clock_timestamp()) / $bucket_time) * $bucket_time)));
$node->poll_query_until('postgres', "SELECT clock_timestamp() > '$mid'") or die;

# phase 2
$node->command_ok([ 'pgbench', '-c', '2', '-T', '3', 'postgres' ], 'pgbench, phase 2');
$node->safe_psql('postgres', q(SELECT pg_sleep(0.2) AS only_in_phase_two));
$node->safe_psql('postgres', q(
	INSERT INTO big SELECT g, repeat('y', 100) FROM generate_series(1, 20000) g;
	SELECT count(*) FROM pg_logical_slot_get_changes('report_slot', NULL, NULL);));
pgsm_wait_exported($node, '%only_in_phase_two%') or die 'phase 2 not exported';
$node->poll_query_until('postgres', qq(
	SELECT coalesce(sum(spill_bytes), 0) > 0 FROM pg_stat_monitor_slot_deltas
	WHERE bucket_start_time >= '$mid')) or die 'no spill recorded in phase 2';
ok($node->safe_psql('postgres', "SELECT now() < '$until'") eq 't',
	'the workload fits in the range');

# --- the report --------------------------------------------------------------

my $dir = $PostgreSQL::Test::Utils::tmp_check;
sub save
{
	my ($name, $html) = @_;
	my $file = "$dir/$name.html";
	open my $fh, '>:raw', $file or die "could not write $file: $!";
	print $fh $html;
	close $fh;
	return $file;
}

my $html = $node->safe_psql('postgres',
	"SELECT pg_stat_monitor_report('$since', '$until')");
my $file = save('report', $html);

ok($html =~ /\A<!DOCTYPE html>.*<\/html>\s*\z/s, 'one HTML document');
ok($html !~ /<script|\bsrc\s*=|\bhref\s*=|url\(|\@import/i,
	'no script, and nothing to load from anywhere');
ok(index($html, q{<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">}) >= 0,
	'a Content-Security-Policy refuses scripts and loads');
ok($html =~ /UPDATE pgbench_accounts SET abalance = abalance \+ \$1 WHERE aid = \$2/,
	'statements of the range are in it: pgbench\'s, among the top ones');

# what each section says (in the HTML as the report writes it)
sub section
{
	my ($doc, $id) = @_;
	return $doc =~ /<h2 id="$id">(.*?)(?:<h2 |<\/body>)/s ? $1 : '';
}
like(section($html, 'plans'),
	qr/: [2-9] plans<\/h3><pre>SELECT count\(\*\) FROM pgbench_accounts WHERE aid &lt; \$1/,
	'plan changes: the statement that ran with two plans');
like(section($html, 'errors'), qr/<code>22012<\/code>.*<code>42P01<\/code>/s,
	'errors by SQLSTATE: division by zero, then the missing table');
like(section($html, 'decoding'), qr/<h3>slot report_slot<\/h3>/, 'decoding: the slot has its charts');
like(section($html, 'decoding'), qr/logical_decoding_work_mem 64 kB/,
	'decoding: the spill chart has its line at logical_decoding_work_mem');
like(section($html, 'decoding'), qr/<div class="hint">[^<]+/, 'decoding: the slot has its advice');
like(section($html, 'health'), qr/<th>rows_exported<\/th><td>[1-9]/,
	'the store: pg_stat_monitor_info, with what was exported');
like(section($html, 'health'), qr/[1-9][0-9]* exports \(green\)/, 'the store: the exports of the range');

# the screenshot: the page as it is, policy and all
my $png = "$dir/report.png";
my ($out, $err) = chromium_run($file, 1600, "--screenshot=$png");
is(join("\n", console_lines($err)), '', 'the report logs nothing to the console');
ok(-s $png, 'a screenshot was saved');
copy($png, $ENV{PGSM_REPORT_SHOT}) or die "could not copy to $ENV{PGSM_REPORT_SHOT}: $!"
  if $ENV{PGSM_REPORT_SHOT};

# the probe: what is drawn, and where
($out, $err) = chromium_run(report_with_probe($file), 1600, '--dump-dom');
is(join("\n", console_lines($err)), '', 'the probed report logs nothing either');
my $r = probe_results($out);

is_deeply($r->{sections}, [qw(load top latency plans errors decoding health)],
	'every section, in order');
is($r->{scripts}, 1, 'the only script is the probe');

my $cells = $node->safe_psql('postgres', 'SELECT array_length(range(), 1)');
my @expect = (
	[ 'calls per bucket', 900, 150 ],
	[ 'execution time per bucket', 900, 150 ],
	[ 'errors per bucket', 900, 150 ],
	[ 'latency heat map', 900, $cells * 14 + 42 ],
	[ 'bytes spilled (orange) and streamed (blue) per bucket', 900, 150 ],
	[ 'transactions spilled (orange) and streamed (blue) per bucket', 900, 150 ],
	[ 'rows exported per bucket', 900, 150 ]);
is_deeply([ map { $_->{label} } @{ $r->{charts} } ], [ map { $_->[0] } @expect ],
	'the charts, in order');
for my $i (0 .. $#expect)
{
	my ($label, $w, $h) = @{ $expect[$i] };
	my $c = $r->{charts}[$i] // {};
	is("$c->{width}x$c->{height}", "${w}x$h", "$label: drawn at its size");
	ok($c->{marks} > 0, "$label: has bars or cells ($c->{marks})");
	ok($c->{marks} <= 2 * $buckets + 2, "$label: no more than two bars per bucket")
	  unless $label =~ /heat map/;
}

ok(@{ $r->{sparks} } >= 4, 'a sparkline per top statement (' . @{ $r->{sparks} } . ')');
is_deeply([ grep { $_->{polyline_points} != $buckets || $_->{width} != 160 || $_->{height} != 28 }
	  @{ $r->{sparks} } ], [], 'every sparkline: 160x28, one point per bucket');

# the pixels: the three load charts are in the screenshot, with bars of
# their colours in them
my $img = png_read($png);
is("$img->{width}x$img->{height}", '1200x1600', 'screenshot of the window size');
my %colour = (
	'calls per bucket' => [ 0x33, 0x66, 0xcc ],
	'execution time per bucket' => [ 0x2e, 0x8b, 0x57 ],
	'errors per bucket' => [ 0xc0, 0x39, 0x2b ]);
for my $c (@{ $r->{charts} }[ 0 .. 2 ])
{
	my $rgb = $colour{ $c->{label} };
	my $n = png_count($img, $c->{x}, $c->{y}, $c->{width}, $c->{height},
		sub { $_[0] == $rgb->[0] && $_[1] == $rgb->[1] && $_[2] == $rgb->[2] });
	ok($n >= 5, "$c->{label}: $n pixels of its bars in the screenshot");
}
my ($spark) = grep { $_->{y} + $_->{height} < 1600 } @{ $r->{sparks} };
ok($spark && png_count($img, $spark->{x}, $spark->{y}, $spark->{width}, $spark->{height},
		sub { $_[2] > $_[0] + 60 }) >= 10,
	'a sparkline is drawn in the screenshot');

# filters: another database's report has none of these statements
$node->safe_psql('postgres', 'CREATE DATABASE other');
my $other = $node->safe_psql('postgres',
	"SELECT pg_stat_monitor_report('$since', '$until', dbname => 'other')");
ok($other !~ /only_in_phase_one|pgbench_accounts/, 'database filter: none of its statements');
ok($other =~ /No statements in this range/, 'database filter: says so');
$node->safe_psql('postgres', 'CREATE ROLE idle_user');
my $idle = $node->safe_psql('postgres',
	"SELECT pg_stat_monitor_report('$since', '$until', username => 'idle_user')");
ok($idle =~ /No statements in this range/ && $idle !~ /pgbench_accounts/,
	'user filter: a user who ran nothing has no statements');
my $me = $node->safe_psql('postgres',
	"SELECT pg_stat_monitor_report('$since', '$until', dbname => 'postgres', username => current_user)");
ok($me =~ /pgbench_accounts/, 'user and database filters: the user\'s statements are there');

# a long range: bars of whole hours from a UTC hour (read from the hourly
# rollups where they cover it), between 120 and 240 of them; a short one keeps
# its bars of whole buckets
is($node->safe_psql('postgres', q(
	SELECT string_agg(format('%s %s %s', g.origin % 3600 = 0 AND g.step % 3600 = 0,
							 ceil((extract(epoch FROM v.u) - g.origin) / g.step) BETWEEN 120 AND 240,
							 g.origin <= extract(epoch FROM v.s)), ',' ORDER BY v.n)
	FROM (VALUES (1, timestamptz '2026-01-01 00:17:03+00', timestamptz '2026-01-31 00:17:03+00'),
				 (2, '2026-01-01 00:17:03+00', '2026-01-06 00:17:03+00'),
				 (3, '2026-01-01 00:17:03+00', '2026-01-01 01:17:03+00')) v(n, s, u),
		 pgsm_report_grid(v.s, v.u, 240) g)),
	't t t,t t t,f t t',
	'long ranges get bars of whole hours from an hour, a short one does not');
my $month = $node->safe_psql('postgres',
	"SELECT pg_stat_monitor_report(timestamptz '$until' - interval '30 days', '$until')");
ok($month =~ /charts show (10800|14400) s per bar/ && $month =~ /pgbench_accounts/,
	'thirty days: bars of whole hours, the statements there');

# --- the diff report ----------------------------------------------------------

my $diff = $node->safe_psql('postgres',
	"SELECT pg_stat_monitor_diff_report('$since', '$mid', '$mid', '$until', top => 100)");
$file = save('diff', $diff);
ok($diff !~ /<script|\bsrc\s*=|\bhref\s*=|url\(/i, 'diff: no script, nothing to load');
($out, $err) = chromium_run(report_with_probe($file), 1600, '--dump-dom');
is(join("\n", console_lines($err)), '', 'diff: logs nothing');
$r = probe_results($out);
is_deeply($r->{sections}, [qw(load totals slower new gone errors decoding)],
	'diff: every section, in order');
is(scalar(grep { $_->{width} == 440 && $_->{height} == 150 && $_->{marks} > 0 } @{ $r->{charts} }),
	4, 'diff: four load charts drawn, two per period');
ok($r->{text} =~ /\bNew\b.*only_in_phase_two.*\bGone\b/s, 'diff: the new statement is new');
ok($r->{text} =~ /\bGone\b.*only_in_phase_one.*Errors by SQLSTATE/s, 'diff: the old one is gone');
ok($r->{text} =~ /22012/, 'diff: division by zero in the errors');
like(section($diff, 'totals'),
	qr/<th>bytes spilled by logical decoding<\/th><td class="n">[^<]*<\/td><td class="n">[1-9]/,
	'diff: the bytes spilled in period 2');
like(section($diff, 'decoding'), qr/<td>report_slot<\/td>/, 'diff: the slot, period against period');

done_testing();
