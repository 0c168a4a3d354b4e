# Roles that may create objects in pgsm_database, but are not superusers,
# cannot make the workers (which are superusers) run their code: not through
# functions or operators in public or in a schema named like the worker's
# role, not through the database's search_path, role or read-only default.
# A table squatting the name of a partition, or a partition detached by
# hand, gets a WARNING and export goes on.  histogram() works for everyone.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgsmTest;

my $node = pgsm_node('security', bucket_time => 2);
my $su = $node->safe_psql('postgres',
	'SELECT rolname FROM pg_roles WHERE oid = 10');

# mallory_public may create in public (the extension's schema), mallory_db
# in the database, and mallory_owner owns the database.
$node->safe_psql('postgres', qq(
	CREATE ROLE mallory_public LOGIN;
	CREATE ROLE mallory_db LOGIN;
	CREATE ROLE mallory_owner LOGIN;
	GRANT CREATE ON SCHEMA public TO mallory_public;
	GRANT CREATE ON DATABASE postgres TO mallory_db;
	ALTER DATABASE postgres OWNER TO mallory_owner;
	CREATE TABLE probe (a int);
	GRANT SELECT ON probe TO PUBLIC));

# What every attacking function calls: it says in the log that it ran,
# records it in a table, and tries to make its author a superuser.
$node->safe_psql('postgres', q(
	SET ROLE mallory_public;
	CREATE TABLE public.attack_marks (tag text, ran_as name);
	GRANT INSERT ON public.attack_marks TO PUBLIC;
	CREATE FUNCTION public.attack(tag text, author text) RETURNS void
	LANGUAGE plpgsql AS $$
	BEGIN
		RAISE LOG 'attacker function % ran as %', tag, current_user;
		INSERT INTO public.attack_marks VALUES (tag, current_user);
		BEGIN
			EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', author);
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
	END $$;));

# Functions and operators that match the extension's calls better than
# pg_catalog's, created in schema "s" by the role given.
sub hijack
{
	my ($role, $s) = @_;
	$node->safe_psql('postgres', qq(
	SET ROLE $role;
	CREATE FUNCTION $s.unnest(a timestamptz[]) RETURNS SETOF timestamptz
	LANGUAGE plpgsql AS \$\$
	BEGIN
		PERFORM public.attack('$s.unnest', '$role');
		RETURN QUERY SELECT pg_catalog.unnest(a);
	END \$\$;
	CREATE FUNCTION $s.to_timestamp(numeric) RETURNS timestamptz
	LANGUAGE plpgsql AS \$\$
	BEGIN
		PERFORM public.attack('$s.to_timestamp', '$role');
		RETURN pg_catalog.to_timestamp(\$1::float8);
	END \$\$;
	CREATE FUNCTION $s.make_interval(secs bigint) RETURNS interval
	LANGUAGE plpgsql AS \$\$
	BEGIN
		PERFORM public.attack('$s.make_interval', '$role');
		RETURN pg_catalog.make_interval(secs => secs::float8);
	END \$\$;
	CREATE FUNCTION $s.attack_div(numeric, bigint) RETURNS numeric
	LANGUAGE plpgsql AS \$\$
	BEGIN
		PERFORM public.attack('$s./', '$role');
		RETURN \$1 OPERATOR(pg_catalog./) \$2::numeric;
	END \$\$;
	CREATE OPERATOR $s./ (LEFTARG = numeric, RIGHTARG = bigint,
	                      FUNCTION = $s.attack_div);
	CREATE FUNCTION $s.attack_eq(oid, regclass) RETURNS boolean
	LANGUAGE plpgsql AS \$\$
	BEGIN
		PERFORM public.attack('$s.=', '$role');
		RETURN \$1 OPERATOR(pg_catalog.=) \$2::oid;
	END \$\$;
	CREATE OPERATOR $s.= (LEFTARG = oid, RIGHTARG = regclass,
	                      FUNCTION = $s.attack_eq);));
}

# 1. in public, which precedes nothing but is in everyone's search_path
hijack('mallory_public', 'public');

# 2. in the extension's schema (public here): a zero-argument
# pgsm_maintain_partitions(), a better match for a call that relies on the
# default of the real one
$node->safe_psql('postgres', q(
	SET ROLE mallory_public;
	CREATE FUNCTION public.pgsm_maintain_partitions() RETURNS void
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM public.attack('pgsm_maintain_partitions()', 'mallory_public');
	END $$;));

# 3. with CREATE on the database only: a schema named like the worker's
# role, "$user" in the default search_path
$node->safe_psql('postgres',
	qq(SET ROLE mallory_db; CREATE SCHEMA "$su"; GRANT USAGE ON SCHEMA "$su" TO PUBLIC));
hijack('mallory_db', qq("$su"));

# 4. the database's owner sets the search_path every session starts with
$node->safe_psql('postgres', q(
	SET ROLE mallory_owner;
	CREATE SCHEMA mallory;
	GRANT USAGE ON SCHEMA mallory TO PUBLIC;
	ALTER DATABASE postgres SET search_path = mallory, public));
hijack('mallory_owner', 'mallory');

# Restart, so that the worker starts (and maintains partitions) with
# everything in place, then let it export, maintain, snapshot and refresh.
$node->restart;
my $log_offset;
$node->safe_psql('postgres', 'SELECT count(*) FROM probe AS after_restart')
  for 1 .. 3;
ok( $node->poll_query_until('postgres', q(
	SELECT count(*) > 0 FROM pg_stat_monitor
	WHERE query = 'SELECT count(*) FROM probe AS after_restart')),
	'statements reach history and the materialized view');
ok( $node->poll_query_until('postgres',
	'SELECT exports >= 3 FROM pg_stat_monitor_info'),
	'the worker exported three times');

is( $node->safe_psql('postgres', q(
	SELECT string_agg(rolname, ', ' ORDER BY rolname) FROM pg_roles
	WHERE rolname LIKE 'mallory%' AND rolsuper)),
	'', 'no attacker became a superuser');
is( $node->safe_psql('postgres',
	q(SELECT string_agg(DISTINCT tag, ', ') FROM public.attack_marks)),
	'', 'no attacker function ran in a committed transaction');
my $log = slurp_file($node->logfile);
unlike($log, qr/attacker function (?!%)\S+ ran as/,
	'no attacker function ran at all');
unlike($log, qr/pg_stat_monitor worker could not/,
	'every step of the worker succeeded');
is( $node->safe_psql('postgres',
	'SELECT export_failures FROM pg_stat_monitor_info'),
	'0', 'pg_stat_monitor_info shows no failure');

# histogram(), for an ordinary user: their own statements, from history
$node->safe_psql('postgres', q(
	CREATE ROLE alice LOGIN;
	SET ROLE alice;
	SELECT count(*) FROM probe AS alice_marker;
	SELECT count(*) FROM probe AS alice_marker));
ok(pgsm_wait_exported($node, 'SELECT count(*) FROM probe AS alice_marker'),
	"alice's statements are exported");
my $key = $node->safe_psql('postgres', q(
	SELECT bucket || '::int8, ' || queryid FROM pg_stat_monitor_entries d
	JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	WHERE t.text = 'SELECT count(*) FROM probe AS alice_marker'
	ORDER BY bucket LIMIT 1));
my ($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE alice; SELECT sum(freq) > 0 FROM histogram($key)");
is($ret, 0, 'histogram() runs for an ordinary user') or diag($err);
is($out, 't', 'and shows their own calls from history');
is( $node->safe_psql('postgres', qq(
	SET ROLE mallory_public; SELECT coalesce(sum(freq), 0) FROM histogram($key))),
	'0', "another ordinary user does not see alice's histogram");
$node->safe_psql('postgres', 'GRANT pg_read_all_stats TO mallory_public');
isnt( $node->safe_psql('postgres', qq(
	SET ROLE mallory_public; SELECT coalesce(sum(freq), 0) FROM histogram($key))),
	'0', 'a member of pg_read_all_stats does');
$node->safe_psql('postgres', 'REVOKE pg_read_all_stats FROM mallory_public');

# 5. the database's owner attaches a role, a session authorization and
# read-only transactions to the database: the workers ignore them
$node->safe_psql('postgres', q(
	SET ROLE mallory_owner;
	ALTER DATABASE postgres SET role = mallory_owner;
	ALTER DATABASE postgres SET session_authorization = mallory_owner;
	ALTER DATABASE postgres SET default_transaction_read_only = on));
$node->restart;
$log_offset = -s $node->logfile;
# (sessions of the test start read-only as mallory_owner too)
my $reset = 'SET ROLE NONE; SET default_transaction_read_only = off;';
is($node->safe_psql('postgres', 'SELECT current_user'),
	'mallory_owner', 'the database setting makes a superuser session run as its owner');
# Poll a query that needs $reset first.  (poll_query_until cannot: psql
# shows the SET commands' tags of a string given with -c, so the output is
# never just "t".)
sub poll_reset
{
	my ($query) = @_;
	foreach (1 .. $PostgreSQL::Test::Utils::timeout_default * 10)
	{
		return 1 if $node->safe_psql('postgres', "$reset $query") eq 't';
		usleep(100_000);
	}
	return 0;
}
$node->safe_psql('postgres',
	"$reset SELECT count(*) FROM probe AS with_owner_settings") for 1 .. 2;
ok( poll_reset(q(
	SELECT count(*) > 0 FROM pg_stat_monitor_entries d
	JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	WHERE t.text = 'SELECT count(*) FROM probe AS with_owner_settings')),
	'the worker still exports');
ok( poll_reset(q(
	SELECT count(*) > 0 FROM pg_stat_monitor
	WHERE query = 'SELECT count(*) FROM probe AS with_owner_settings')),
	'and the view is still refreshed');
is( $node->safe_psql('postgres',
	"$reset SELECT export_failures, last_error FROM pg_stat_monitor_info"),
	'0|', 'with no failure');
$node->safe_psql('postgres',
	"$reset SET ROLE mallory_owner; ALTER DATABASE postgres RESET ALL");

# 6. a table squatting a partition's name: a WARNING names it and its
# owner, and the partition is created under another name
$node->safe_psql('postgres', q(
	SET ROLE mallory_public;
	CREATE TABLE public."pg_stat_monitor_entries_p20300101T000000" (a int)));
my $warning = qr/\QWARNING:  name "pg_stat_monitor_entries_p20300101T000000" for a partition of public.pg_stat_monitor_entries is taken by table public."pg_stat_monitor_entries_p20300101T000000", owned by role "mallory_public"\E/;
($ret, $out, $err) = $node->psql('postgres', q(
	SELECT pgsm_ensure_partition('pg_stat_monitor_entries', '2030-01-01 12:00+00')));
is($ret, 0, 'a squatted name does not stop pgsm_ensure_partition()');
like($err, $warning, 'a WARNING names the squatting table and its owner');
like( $node->safe_psql('postgres', q(
	SELECT partition FROM pgsm_partitions('pg_stat_monitor_entries')
	WHERE '2030-01-01 12:00+00' >= lower_bound AND '2030-01-01 12:00+00' < upper_bound)),
	qr/^"pg_stat_monitor_entries_p20300101T000000_[0-9a-f]{8}"$/,
	'the partition is created under another name');

# a partition detached by hand keeps its name
$node->safe_psql('postgres', q(
	SELECT pgsm_ensure_partition('pg_stat_monitor_entries', '2031-01-01 12:00+00');
	ALTER TABLE pg_stat_monitor_entries
		DETACH PARTITION "pg_stat_monitor_entries_p20310101T000000"));
($ret, $out, $err) = $node->psql('postgres', q(
	SELECT pgsm_ensure_partition('pg_stat_monitor_entries', '2031-01-01 12:00+00')));
like($err, qr/\QWARNING:  name "pg_stat_monitor_entries_p20310101T000000" for a partition of public.pg_stat_monitor_entries is taken by table public."pg_stat_monitor_entries_p20310101T000000", owned by role "$su"\E/,
	'a partition detached by hand gets a WARNING too');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pgsm_partitions('pg_stat_monitor_entries')
	WHERE '2031-01-01 12:00+00' >= lower_bound AND '2031-01-01 12:00+00' < upper_bound)),
	'1', 'and a new partition covers its range');

# the worker meets squatted names: every partition of history is gone, and
# the names of those around now are taken (in one transaction, so that an
# export in between cannot make the partitions again first)
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q(
	BEGIN;
	DO $$
	DECLARE p regclass;
	BEGIN
		FOR p IN SELECT partition FROM pgsm_partitions('pg_stat_monitor_entries') LOOP
			EXECUTE format('DROP TABLE %s', p);
		END LOOP;
	END $$;
	SET ROLE mallory_public;
	DO $$
	DECLARE d int;
	BEGIN
		FOR d IN -1 .. 2 LOOP
			EXECUTE format('CREATE TABLE public.%I (a int)',
				'pg_stat_monitor_entries_p' ||
				to_char(date_trunc('day', now() AT TIME ZONE 'UTC') + d * interval '1 day',
				        'YYYYMMDD"T"HH24MISS'));
		END LOOP;
	END $$;
	COMMIT;));
# The marker has a shape of its own: the second "with_owner_settings" may
# have run in this bucket as the same user, and a statement of its shape
# would have been counted in its entry, under its text.
my $squat = 'SELECT count(*), count(*) FROM probe AS squat_marker';
$node->safe_psql('postgres', $squat) for 1 .. 3;
ok(pgsm_wait_exported($node, $squat), 'export goes on');
is(pgsm_history_calls($node, $squat), '3', 'statements reach history')
  or diag(
	"pg_stat_monitor_info: "
	  . $node->safe_psql('postgres', 'SELECT * FROM pg_stat_monitor_info')
	  . "\nexports: "
	  . $node->safe_psql('postgres',
		'SELECT string_agg(batch_id || \' \' || exported_at || \' \' || rows, \', \' ORDER BY batch_id) FROM pg_stat_monitor_exports')
	  . "\nlog since the partitions were dropped:\n"
	  . join("\n", grep { /pg_stat_monitor|ERROR|WARNING|FATAL/ }
		  split /\n/, slurp_file($node->logfile, $log_offset)));
ok( $node->wait_for_log(
	qr/WARNING:  name "pg_stat_monitor_entries_p\d{8}T000000" for a partition of public.pg_stat_monitor_entries is taken by table public."pg_stat_monitor_entries_p\d{8}T000000", owned by role "mallory_public"/,
	$log_offset),
	'the worker logs a WARNING naming the table and its owner');

# and still, nothing of the attackers ran
$log = slurp_file($node->logfile);
unlike($log, qr/attacker function (?!%)\S+ ran as/, 'no attacker function ran');
is( $node->safe_psql('postgres', q(
	SELECT count(*) FROM pg_roles WHERE rolname LIKE 'mallory%' AND rolsuper)),
	'0', 'no attacker became a superuser');

$node->stop;
done_testing();
