# Texts in the reports are text: statement texts, comments, error messages,
# plans, role and database names full of markup, scripts, quotes and
# ampersands come out as the characters they are, never as elements; and the
# reports show no more than the history views show their reader.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;
use PgsmReport;

my $bucket_time = 2;
my $node = pgsm_node('escaping',
	bucket_time => $bucket_time,
	conf => "pg_stat_monitor.pgsm_enable_query_plan = on\n");

# Payloads that would run a script, add an element or break out of an
# attribute or a table cell if a report copied them as they are.  Each
# script, if it ever ran, would log "pwned" and change the page's title.
my $run = q{console.log('pwned');document.title='pwned'};
my $role = q{<svg onload="console.log('pwned')">&r'};
my $db = q{<u>db&amp;"'</u>};
my $table = q{<img src=x onerror="console.log('pwned')">};
my $column = qq{</code></td></tr></table><script>$run</script>};
(my $column_sql = $column) =~ s/"/""/g;
my $comment = q{<iframe srcdoc="<script>parent.document.title='pwned'</script>"></iframe> & &amp; &lt; ' "};

sub ident
{
	my ($s) = @_;
	$s =~ s/"/""/g;
	return qq{"$s"};
}

$node->safe_psql('postgres', sprintf(q(
	CREATE ROLE %s LOGIN;
	CREATE DATABASE %s;
	CREATE TABLE %s (%s int);
	GRANT ALL ON %s TO %s;),
	ident($role), ident($db), ident($table), ident($column), ident($table), ident($role)));
$node->safe_psql('postgres', sprintf(q(GRANT ALL ON DATABASE %s TO %s), ident($db), ident($role)));

my $select = sprintf(q(/* %s */ SELECT %s FROM %s), $comment, ident($column), ident($table));
$node->safe_psql('postgres', "SET ROLE " . ident($role) . "; $select");
$node->safe_psql($db, "SELECT 1 AS in_the_evil_database");
# an error whose message quotes a name full of markup
$node->psql('postgres', 'SELECT * FROM ' . ident("$table-missing"));
pgsm_wait_exported($node, '%in_the_evil_database%') or die 'not exported';
pgsm_wait_exported($node, '%-missing%') or die 'not exported';

# the texts as history has them: the needles the report must show as text
# (from PostgreSQL 18 a leading comment is not part of the statement's text)
my $stored = $node->safe_psql('postgres', q(
	SELECT query FROM pg_stat_monitor_history
	WHERE query LIKE '%<script>%FROM "<img src=x%' AND elevel = 0));
like($stored, qr/<script>/, 'history holds the statement, markup and all');
my $message = $node->safe_psql('postgres', q(
	SELECT message FROM pg_stat_monitor_history WHERE query LIKE '%-missing%' AND elevel > 0));
like($message, qr/<img src=x/, 'history holds the message, markup and all');

my $dir = $PostgreSQL::Test::Utils::tmp_check;
my %reports = (
	report => $node->safe_psql('postgres',
		q(SELECT pg_stat_monitor_report(now() - interval '10 minutes', now() + interval '1 minute',
		                                top => 1000))),
	filtered => $node->safe_psql('postgres', sprintf(
		q(SELECT pg_stat_monitor_report(now() - interval '10 minutes', now() + interval '1 minute',
		                                dbname => %s, username => %s)), quote($db), quote($role))),
	diff => $node->safe_psql('postgres',
		q(SELECT pg_stat_monitor_diff_report(now() - interval '20 minutes', now() - interval '10 minutes',
		                                     now() - interval '10 minutes', now() + interval '1 minute',
		                                     top => 1000))));

sub quote
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# the report's own elements, and nothing else
my %own = map { $_ => 1 } qw(html head meta title style body h1 h2 h3 table tr th
  td p code pre span br div svg rect text line polyline);

for my $name (sort keys %reports)
{
	my $html = $reports{$name};
	my @tags = $html =~ /<\/?([A-Za-z][A-Za-z0-9-]*)/g;
	is_deeply([ grep { !$own{ lc $_ } } @tags ], [], "$name: only the report's own elements");
	ok($html !~ /<(script|img|iframe|svg onload|u>)/i, "$name: no payload as markup");
	ok($html !~ /\bon[a-z]+\s*=\s*["']?console/i, "$name: no event handler");

	my $file = "$dir/$name.html";
	open my $fh, '>:raw', $file or die "could not write $file: $!";
	print $fh $html;
	close $fh;

	# in Chromium, without the report's Content-Security-Policy (the probe
	# removes it): a payload that became markup would run
	my ($out, $err) = chromium_run(report_with_probe($file), 1200, '--dump-dom');
	is(join("\n", console_lines($err)), '', "$name: nothing ran, nothing logged");
	my $r = probe_results($out);
	is($r->{scripts}, 1, "$name: the only script is the probe");
	like($r->{title}, qr/^pg_stat_monitor (diff )?report$/, "$name: the title is the report's");
	ok($out !~ /<(img|iframe|u)\b/i, "$name: no payload element in the DOM");

	my @needles = $name eq 'filtered'
	  ? ($role, $db)
	  : ($stored =~ s/\s+/ /gr, $role, $message);
	my $text = $r->{text} =~ s/\s+/ /gr;
	for my $needle (@needles)
	{
		ok(index($text, $needle) >= 0, "$name: shown as text: " . substr($needle, 0, 40));
	}
}

# --- who may read a report ---------------------------------------------------

$node->safe_psql('postgres', q(
	CREATE ROLE plain LOGIN;
	CREATE ROLE watcher LOGIN IN ROLE pg_read_all_stats;));
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	'SELECT pg_stat_monitor_report()', extra_params => [ '-U', 'plain' ]);
like($stderr, qr/permission denied for function pg_stat_monitor_report/,
	'an ordinary user may not run the report');
($ret, $stdout, $stderr) = $node->psql('postgres',
	q(SELECT pg_stat_monitor_diff_report(now() - interval '1 hour', now(), now() - interval '1 hour', now())),
	extra_params => [ '-U', 'plain' ]);
like($stderr, qr/permission denied for function pg_stat_monitor_diff_report/,
	'nor the diff report');

$node->safe_psql('postgres', q(
	GRANT EXECUTE ON FUNCTION pg_stat_monitor_report(timestamptz, timestamptz, name, name, int) TO plain));
($ret, $stdout, $stderr) = $node->psql('postgres',
	'SELECT pg_stat_monitor_report()', extra_params => [ '-U', 'plain' ]);
like($stderr, qr/permission denied for the history of pg_stat_monitor/,
	'EXECUTE alone does not open history: the report runs with its caller\'s privileges');
like($stderr, qr/HINT:  .*pg_read_all_stats/, 'the hint names pg_read_all_stats');

# (the report of the evil database alone, so that its statement is among
# the report's top statements whatever else the test ran)
my $watched = $node->safe_psql('postgres',
	sprintf(q(SELECT pg_stat_monitor_report(now() - interval '10 minutes', now() + interval '1 minute',
	                                        dbname => %s)), quote($db)),
	extra_params => [ '-U', 'watcher' ]);
ok($watched =~ /in_the_evil_database/, 'pg_read_all_stats reads the report, as it reads history');

($ret, $stdout, $stderr) = $node->psql('postgres',
	q(SELECT pg_stat_monitor_report(now(), now() - interval '1 hour')));
like($stderr, qr/ERROR:  a report needs a range whose end is after its start/, 'an empty range is refused');

done_testing();
