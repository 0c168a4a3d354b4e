# The extension's shared memory at default settings, measured as the
# difference in pg_shmem_allocations between the same server with and
# without the library, is at most 1 MiB.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shmem');
$node->init;
$node->start;

# Named allocations and the anonymous ones; the NULL row is what is left
# free of the segment, which the extension's request only enlarges.
my $query = q{SELECT sum(allocated_size) FROM pg_shmem_allocations
              WHERE name IS NOT NULL};

my $without = $node->safe_psql('postgres', $query);

$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_stat_monitor'");
$node->restart;
my $with = $node->safe_psql('postgres', $query);
my $ours = $node->safe_psql('postgres',
	q{SELECT allocated_size FROM pg_shmem_allocations
	  WHERE name = 'pg_stat_monitor'});

my $diff = $with - $without;
diag("pg_stat_monitor's shared memory at defaults: $diff bytes "
	  . sprintf("(%.3f MiB); its own area: %s bytes", $diff / 1048576, $ours));
cmp_ok($diff, '>', 0, 'the store is allocated');
cmp_ok($diff, '<=', 1048576, 'at most 1 MiB of shared memory at defaults');

# What pg_stat_monitor_info reports as the size is the configured one.
$node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_monitor');
is($node->safe_psql('postgres', 'SELECT size FROM pg_stat_monitor_info'),
	'1048576', 'pg_stat_monitor_info shows the configured size');

$node->stop;
done_testing();
