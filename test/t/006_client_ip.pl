# client_ip: the client's address over IPv4 and IPv6, 127.0.0.1 over a Unix
# socket (as pg_stat_monitor has it), and hidden (NULL) from users who may
# not see other users' rows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('client_ip');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pg_stat_monitor'
pg_stat_monitor.pgsm_enable_table_export = off
listen_addresses = '127.0.0.1,::1'
});
$node->start;

my $port = $node->port;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_stat_monitor;
CREATE ROLE regress_ip_user LOGIN;
CREATE TABLE ip_t (a int);
GRANT SELECT ON ip_t TO regress_ip_user;
SELECT pg_stat_monitor_reset();
});

# One statement over each kind of connection, each told apart by a comment
# in its text.  A Unix socket is 127.0.0.1, so the statement sent over it
# differs from the one sent over IPv4, lest they share a row.
$node->safe_psql('postgres', 'SELECT count(*) /* v4 */ FROM ip_t',
	connstr => "host=127.0.0.1 port=$port dbname=postgres");
$node->safe_psql('postgres', 'SELECT count(*) /* v6 */ FROM ip_t',
	connstr => "host=::1 port=$port dbname=postgres");
$node->safe_psql('postgres', 'SELECT count(a) /* unix */ FROM ip_t');

# the same statement from two addresses: two rows
$node->safe_psql('postgres', 'SELECT max(a) FROM ip_t',
	connstr => "host=127.0.0.1 port=$port dbname=postgres");
$node->safe_psql('postgres', 'SELECT max(a) FROM ip_t',
	connstr => "host=::1 port=$port dbname=postgres");

my $rows = $node->safe_psql(
	'postgres', q{
SELECT query, coalesce(host(client_ip), 'NULL'), family(client_ip)
FROM pg_stat_monitor_live
WHERE query LIKE '%ip_t%' AND query NOT LIKE '%pg_stat_monitor%'
GROUP BY query, client_ip
ORDER BY query COLLATE "C", host(client_ip) COLLATE "C"});
is( $rows,
	join("\n",
		'SELECT count(*) /* v4 */ FROM ip_t|127.0.0.1|4',
		'SELECT count(*) /* v6 */ FROM ip_t|::1|6',
		'SELECT count(a) /* unix */ FROM ip_t|127.0.0.1|4',
		'SELECT max(a) FROM ip_t|127.0.0.1|4',
		'SELECT max(a) FROM ip_t|::1|6'),
	'client_ip over IPv4, IPv6 and a Unix socket');

# Another user, not a member of pg_read_all_stats, sees his own address but
# not the others': the rows of the statements above are there for him, each
# with its text masked and no address.
my $others = $node->safe_psql('postgres', q{
SELECT string_agg(queryid::text, ',') FROM pg_stat_monitor_live
WHERE query LIKE '%ip_t%' AND query NOT LIKE '%pg_stat_monitor%'});
$node->safe_psql('postgres', 'SELECT min(a) FROM ip_t',
	connstr => "host=127.0.0.1 port=$port dbname=postgres user=regress_ip_user");
$rows = $node->safe_psql(
	'postgres', qq{
SELECT query, coalesce(host(client_ip), 'NULL')
FROM pg_stat_monitor_live
WHERE username = current_user AND query LIKE '%ip_t%'
ORDER BY query COLLATE "C", host(client_ip) COLLATE "C"},
	connstr => "host=::1 port=$port dbname=postgres user=regress_ip_user");
is($rows, 'SELECT min(a) FROM ip_t|127.0.0.1',
	'a user sees the text and address of his own statements');
$rows = $node->safe_psql(
	'postgres', qq{
SELECT query, coalesce(host(client_ip), 'NULL'), sum(calls)
FROM pg_stat_monitor_live
WHERE queryid IN ($others)
GROUP BY 1, 2},
	connstr => "host=::1 port=$port dbname=postgres user=regress_ip_user");
is($rows, '<insufficient privilege>|NULL|5',
	"a user sees the calls of other users' rows, all five, with text and address masked");

$node->stop;
done_testing();
