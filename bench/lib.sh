# bench/lib.sh: helpers shared by the benchmark parts.  Sourced, not run.
#
# Every server is a throwaway cluster under $WORK (a private temporary
# directory), owned by the user "postgres", listening only on a Unix socket
# in $WORK/sock.  cleanup() stops them all and removes $WORK; run.sh calls
# it on exit, whatever happens.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
RUNNER=postgres
# next port number; sockets live in a private directory, so any is free
NEXT_PORT=${NEXT_PORT:-55400}

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Run a command as the server's user, with the PostgreSQL binaries first.
# Servers and clients run at a higher priority (nice $BENCH_NICE, -10 by
# default) so that other work on the machine disturbs the timings less.
as_pg() {
	nice -n "${BENCH_NICE:--10}" \
		runuser -u "$RUNNER" -- env PATH="$PGBIN:$PATH" LC_ALL=C.UTF-8 "$@"
}

# Make the private work directory (once per run).
work_init() {
	WORK=$(mktemp -d /tmp/pgsm-bench.XXXXXX)
	chmod 755 "$WORK"
	mkdir -p "$WORK/sock"
	chmod 700 "$WORK/sock"
	chown "$RUNNER" "$WORK" "$WORK/sock"
	export WORK
}

# Stop every server started under $WORK and remove it.
cleanup() {
	# this shell's own background jobs (callgrind runs), by their ids
	local pids
	pids=$(jobs -p)
	[ -n "$pids" ] && kill $pids 2>/dev/null
	wait 2>/dev/null
	[ -n "${WORK:-}" ] && [ -d "$WORK" ] || return 0
	for pidfile in "$WORK"/*/data/postmaster.pid; do
		[ -f "$pidfile" ] || continue
		as_pg pg_ctl stop -D "$(dirname "$pidfile")" -m immediate -w >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}

# cluster_init NAME: a fresh cluster in $WORK/NAME, not started.
cluster_init() {
	local name=$1 dir="$WORK/$1"
	mkdir -p "$dir"
	chown "$RUNNER" "$dir"
	as_pg initdb -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 \
		--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; return 1; }
	echo "$NEXT_PORT" >"$dir/port"
	NEXT_PORT=$((NEXT_PORT + 1))
	cat >>"$dir/data/postgresql.conf" <<EOF

# set by bench/lib.sh
listen_addresses = ''
unix_socket_directories = '$WORK/sock'
port = $(cat "$dir/port")
huge_pages = off
logging_collector = off
include_if_exists = 'bench.conf'
EOF
	: >"$dir/data/bench.conf"
	chown "$RUNNER" "$dir/data/bench.conf"
}

# cluster_conf NAME [LINE...]: replace the per-configuration settings
# (shared_preload_libraries and the like), read at the next start.
cluster_conf() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$WORK/$name/data/bench.conf"
}

cluster_start() {
	local dir="$WORK/$1"
	as_pg pg_ctl start -D "$dir/data" -l "$dir/server.log" -w -t 120 >/dev/null ||
		{ tail -n 30 "$dir/server.log" >&2; return 1; }
}

cluster_stop() {
	local dir="$WORK/$1"
	as_pg pg_ctl stop -D "$dir/data" -m fast -w -t 300 >/dev/null
}

cluster_restart() { cluster_stop "$1" && cluster_start "$1"; }

# The postmaster's process id.
cluster_pid() { head -n 1 "$WORK/$1/data/postmaster.pid"; }

# Connection options for clients: Unix socket only.
conn() { echo "-h $WORK/sock -p $(cat "$WORK/$1/port") -U postgres"; }

# q NAME SQL [DB]: run SQL, print unaligned tuples.
q() {
	local name=$1 sql=$2 db=${3:-postgres}
	# shellcheck disable=SC2046
	as_pg psql -X -q -At -v ON_ERROR_STOP=1 $(conn "$name") -d "$db" -c "$sql"
}

# qf NAME FILE [DB]: run a file of SQL.
qf() {
	local name=$1 file=$2 db=${3:-postgres}
	# shellcheck disable=SC2046
	as_pg psql -X -q -At -v ON_ERROR_STOP=1 $(conn "$name") -d "$db" -f "$file"
}

# Arithmetic on decimals, through awk: calc 'EXPR' (prints the value).
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }
# fmt FORMAT VALUE: printf through awk (for rounding).
fmt() { awk -v v="$2" "BEGIN { printf \"$1\", v }" </dev/null; }

# median of numbers, one per line on stdin
median() {
	sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) { print "n/a"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# median_of "WORDS": the median of the numbers in a space-separated list,
# "-" (not measured) left out; "-" when none is left
median_of() {
	local nums
	# shellcheck disable=SC2086
	nums=$(printf '%s\n' $1 | grep -v '^-$')
	if [ -n "$nums" ]; then echo "$nums" | median; else echo "-"; fi
}

# repeat N LINE: LINE, N times (a statement to time more than once)
repeat() {
	local i
	for ((i = 0; i < $1; i++)); do printf '%s\n' "$2"; done
}

# cannot_measure WHY: a part that cannot measure what it is for stops the
# whole run with a message naming the part, rather than writing "not
# available" into the report.  Call it from the part's own shell, not from
# a background job.
cannot_measure() {
	say "part $PART cannot measure: $*"
	echo "bench/run.sh: part $PART cannot measure: $*" >&2
	exit 1
}

# target NAME MEASURED VERDICT NOTE: one row of the summary of targets.
target() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$OUT/targets-$PART.tsv"
}

# Configurations measured.  config_settings NAME prints the lines of
# bench.conf for one of them; config_label NAME a short description.
# Extra statistics extensions found installed are kept in $WORK/extras,
# one "label|shared_preload_libraries" a line (see run.sh).
PGSM_ALL_ON="pg_stat_monitor.pgsm_enable_query_plan = on
pg_stat_monitor.pgsm_extract_comments = on
pg_stat_monitor.pgsm_track_planning = on
pg_stat_monitor.pgsm_track = all"

config_settings() {
	case $1 in
	none) echo "shared_preload_libraries = ''" ;;
	pgss) echo "shared_preload_libraries = 'pg_stat_statements'" ;;
	pgsm) echo "shared_preload_libraries = 'pg_stat_monitor'" ;;
	pgsm_phase1)
		echo "shared_preload_libraries = 'pg_stat_monitor'"
		echo "pg_stat_monitor.pgsm_max = '10MB'"
		echo "pg_stat_monitor.pgsm_max_buckets = 2"
		echo "pg_stat_monitor.pgsm_query_shared_buffer = '1MB'"
		;;
	pgsm_phase3)
		echo "shared_preload_libraries = 'pg_stat_monitor'"
		echo "pg_stat_monitor.pgsm_max = '1MB'"
		echo "pg_stat_monitor.pgsm_max_buckets = 1"
		echo "pg_stat_monitor.pgsm_query_shared_buffer = '100kB'"
		;;
	pgsm_all)
		echo "shared_preload_libraries = 'pg_stat_monitor'"
		echo "$PGSM_ALL_ON"
		;;
	pgsm_cpu0)
		echo "shared_preload_libraries = 'pg_stat_monitor'"
		echo "pg_stat_monitor.pgsm_cpu_time_interval = 0"
		;;
	extra*)
		local i=${1#extra}
		echo "shared_preload_libraries = '$(sed -n "${i}p" "$WORK/extras" | cut -d'|' -f2)'"
		;;
	*) echo "unknown configuration $1" >&2; return 1 ;;
	esac
}

config_label() {
	case $1 in
	none) echo "no extension" ;;
	pgss) echo "pg_stat_statements, defaults" ;;
	pgsm) echo "pg_stat_monitor (this fork), defaults" ;;
	pgsm_phase1) echo "this fork, Phase 1: pgsm_max = 10MB, pgsm_max_buckets = 2, pgsm_query_shared_buffer = 1MB" ;;
	pgsm_phase3) echo "this fork, Phase 3: pgsm_max = 1MB, pgsm_max_buckets = 1, pgsm_query_shared_buffer = 100kB" ;;
	pgsm_all) echo "this fork, every optional capture on (query plan, comments, planning, track = all)" ;;
	pgsm_cpu0) echo "this fork, CPU time read at the end of every statement (pgsm_cpu_time_interval = 0)" ;;
	extra*)
		local i=${1#extra}
		echo "$(sed -n "${i}p" "$WORK/extras" | cut -d'|' -f1) (installed here; extra)"
		;;
	esac
}

# The extra configurations, as config names (extra1 extra2 ...).
extra_configs() {
	[ -s "$WORK/extras" ] || return 0
	awk '{ printf "extra%d ", NR }' "$WORK/extras"
}

# What else the machine is doing: load average, and PostgreSQL servers
# running that are not this benchmark's.
machine_load() {
	local others
	others=$(ps -eo args | grep -E '^(/usr/lib/postgresql/[0-9]+/bin/)?postgres (-D|--single)' |
		grep -v -F "${WORK:-/nonexistent}" | grep -c . || true)
	echo "load average $(cut -d' ' -f1-3 /proc/loadavg), other PostgreSQL servers running: $others"
}

# cluster_clone SRC DST: a copy of the stopped cluster SRC, with a port of
# its own.
cluster_clone() {
	local src="$WORK/$1" dst="$WORK/$2"
	mkdir -p "$dst"
	cp -a "$src/data" "$dst/data"
	chown "$RUNNER" "$dst"
	echo "$NEXT_PORT" >"$dst/port"
	NEXT_PORT=$((NEXT_PORT + 1))
	sed -i "s/^port = .*/port = $(cat "$dst/port")/" "$dst/data/postgresql.conf"
}
