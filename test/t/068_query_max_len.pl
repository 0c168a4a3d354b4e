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
	'100B', 'the setting is in force');
$node->safe_psql('postgres', 'SELECT pg_stat_monitor_reset()');
# Three statements of different shapes (the query id ignores comments and
# aliases).  "SELECT $1 /* " is 13 bytes; "SELECT $1, $2 /* " is 17, so that
# bytes 100 and 101 are one character.
$node->safe_psql('postgres', 'SELECT 1 /* ' . ('y' x 200) . ' */');
$node->safe_psql('postgres', 'SELECT 1, 2 /* ' . ("\xc3\xa9" x 100) . ' */');
$node->safe_psql('postgres', 'SELECT 1, 2, 3');

is( $node->safe_psql('postgres', q(
	SELECT string_agg(format('%s %s %s', left(query, 15), octet_length(query),
	                         right(query, 1)), E'\n' ORDER BY query COLLATE "C")
	FROM (SELECT DISTINCT query FROM pg_stat_monitor_live
	      WHERE query LIKE 'SELECT $1%') q)),
	join("\n",
		'SELECT $1 /* yy 100 y',
		"SELECT \$1, \$2 / 99 \xc3\xa9",
		'SELECT $1, $2,  17 3'),
	'cut at 100 bytes, at a character boundary; a short text whole');

$node->stop;
done_testing();
