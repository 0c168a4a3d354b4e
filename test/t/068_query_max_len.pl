# A non-default pg_stat_monitor.pgsm_query_max_len: the query text is cut at
# exactly that many bytes, or one less when the cut would fall in the middle
# of a character; a shorter text is kept whole.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgsmTest;

my $node = pgsm_node('query_max_len', bucket_time => 60,
	init => { extra => [ '--encoding=UTF8', '--locale=C' ] },
	conf => "pg_stat_monitor.pgsm_query_max_len = 100\n"
	  . "pg_stat_monitor.pgsm_enable_table_export = off\n");

is($node->safe_psql('postgres', 'SHOW pg_stat_monitor.pgsm_query_max_len'),
	'100', 'the setting is in force');
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
# "SELECT $1 AS a /* " is 18 bytes, "SELECT $1 AS bb /* " 19: in the second,
# bytes 100 and 101 are one character
$node->safe_psql('postgres', 'SELECT 1 AS a /* ' . ('y' x 200) . ' */');
$node->safe_psql('postgres', 'SELECT 1 AS bb /* ' . ("\xc3\xa9" x 100) . ' */');
$node->safe_psql('postgres', 'SELECT 1 AS short_one');

is( $node->safe_psql('postgres', q(
	SELECT string_agg(format('%s %s %s', left(query, 15), octet_length(query),
	                         right(query, 1)), E'\n' ORDER BY query COLLATE "C")
	FROM (SELECT DISTINCT query FROM pg_stat_monitor_live
	      WHERE query LIKE 'SELECT $1 AS%') q)),
	join("\n",
		'SELECT $1 AS a  100 y',
		"SELECT \$1 AS bb 99 \xc3\xa9",
		'SELECT $1 AS sh 22 e'),
	'cut at 100 bytes, at a character boundary; a short text whole');

$node->stop;
done_testing();
