# bench/export.sh: part 4, the exporter.
#
# a) Time, instructions and WAL per exported entry, for 1,000, 10,000 and
#    100,000 entries, beside the floor: the same rows written into copies
#    of the history table by INSERT ... SELECT and by COPY FROM a binary
#    file, in the same run.
#    - Time: the server starts with a store large enough for the entries and
#      pgsm_enable_table_export off; one psql session runs that many
#      distinct statements; then export is turned on (reload) and, if the
#      worker has not started already, asked for (pg_stat_monitor_flush).
#      The worker's own figures for that export are read from
#      pg_stat_monitor_info: last_export_ms (freeze, write, commit, release)
#      and last_lock_ms (the store's lock held exclusively, freeze plus
#      release); WAL is the insert position before and after.  Where the
#      worker adds its batches to the totals of pg_stat_monitor_statements
#      after the export (2.4, totals_pending_since), it is then asked to
#      (pg_stat_monitor_flush) and waited for: its time is last_totals_ms,
#      and the WAL covers both.  The same
#      statements are then run and exported once more, when their texts
#      are already stored.  Sessions that watch the server set
#      pg_stat_monitor.pgsm_track = none, so that the store holds exactly
#      the statements run, and the export measured is the only one.
#    - A repository: where the extension has pgsm_export_target (2.4),
#      each size is then run and exported the same two ways to a second
#      server the bench starts on the same machine (CREATE EXTENSION
#      pg_stat_monitor there, the library not preloaded), reached over its
#      Unix socket; side by side with the local export, in the same run.
#      WAL is then the repository's.  BENCH_EXPORT_REPO=0 leaves it out.
#    - The floor: the rows of that last export are copied aside
#      (bench_src) and to a binary COPY file; a copy of the history table
#      (LIKE ... INCLUDING ALL, one partition, the same indexes) receives
#      them by INSERT ... SELECT and by COPY FROM, three times each
#      (median), each committed as the worker commits
#      (synchronous_commit = off) and truncated after.
#    - Instructions: callgrind.  The export's, on the worker: the store is
#      filled once more, export turned on without a reload, and the server
#      stopped cleanly, so that the store is saved; the server then starts
#      under valgrind --trace-children=yes, collecting only inside
#      export_batch (src/export.c), and the worker exports what was saved
#      (texts stored already, but new to this worker); then, asked, adds
#      them to the totals, collected inside fold_totals and told apart
#      from the export by callgrind_annotate.  The floor's:
#      postgres --single under callgrind runs each statement once, minus a
#      run of SELECT 1 (start-up and shut-down).
# b) Bytes on disk per history row and per query text, from the rows and
#    texts those exports wrote.
# c) Refresh time of the materialized view (pgsm_recent, what pg_stat_monitor
#    shows in pgsm_database) over one day and
#    over thirty days of history (rows made from the exported ones, spread
#    over every bucket), with export off so the worker does not refresh
#    it at the same time.

EXPORT_SIZES=${BENCH_EXPORT_SIZES:-"1000 10000 100000"}
# sizes whose instructions are counted (callgrind is slow)
EXPORT_CG_SIZES=${BENCH_EXPORT_CG_SIZES:-$EXPORT_SIZES}
# history rows per bucket for the refresh measurement
EXPORT_HISTORY_ROWS=${BENCH_HISTORY_ROWS:-20}
# 1: also export each size to a repository (where the extension can)
EXPORT_REPO=${BENCH_EXPORT_REPO:-1}

exporter_available() {
	[ -f "$WORK/build/sql/pg_stat_monitor--2.0--2.1.sql" ] &&
		[ -f "$WORK/build/sql/pg_stat_monitor--2.1--2.2.sql" ]
}

# distinct_statements COUNT TABLE: COUNT statements, each with its own core
# query id (the columns listed differ), one a line.
distinct_statements() {
	awk -v n="$1" -v t="$2" 'BEGIN {
		if (n > 125000) { print "at most 125000 distinct statements" > "/dev/stderr"; exit 1 }
		for (i = 0; i < n; i++)
			printf "SELECT c%d, c%d, c%d FROM %s;\n", int(i / 2500), int(i / 50) % 50, i % 50, t
	}'
}

# The table those statements read: 50 integer columns, no rows.
wide_table_sql() {
	awk -v t="$1" 'BEGIN {
		printf "CREATE TABLE %s (", t
		for (i = 0; i < 50; i++) printf "%sc%d int", (i ? ", " : ""), i
		print ")"
	}'
}

# qw NAME SQL: a query that pg_stat_monitor does not record (its session
# starts with pgsm_track = none, so not even a SET is recorded)
qw() {
	# shellcheck disable=SC2046
	as_pg env PGOPTIONS="-c pg_stat_monitor.pgsm_track=none" \
		psql -X -q -At -v ON_ERROR_STOP=1 $(conn "$1") -d postgres -c "$2"
}

# info NAME COLUMNS: columns of pg_stat_monitor_info, unrecorded
info() {
	qw "$1" "SELECT $2 FROM pg_stat_monitor_info" | tail -n 1
}

# totals_later NAME: whether the worker adds its batches to the totals
# after their export (pg_stat_monitor_exports.totals_pending_since)
totals_later() {
	[ "$(qw "$1" "SELECT count(*) FROM pg_attribute
	              WHERE attrelid = to_regclass('pg_stat_monitor_exports')
	                AND attname = 'totals_pending_since'" | tail -n 1)" = 1 ]
}

# wait_totals NAME: ask the worker to add what it exported to the totals,
# and wait until nothing is pending (at most 10 minutes: callgrind is slow)
wait_totals() {
	local i
	qw "$1" "SELECT pg_stat_monitor_flush()" >/dev/null
	for ((i = 0; i < 3000; i++)); do
		[ "$(qw "$1" "SELECT count(*) FROM pg_stat_monitor_exports
		              WHERE totals_pending_since IS NOT NULL" | tail -n 1)" = 0 ] && return 0
		sleep 0.2
	done
	cannot_measure "the exported batches were not added to the totals within 10 minutes"
}

# set_export NAME on|off: turn export on or off, and let the worker see it
set_export() {
	qw "$1" "ALTER SYSTEM SET pg_stat_monitor.pgsm_enable_table_export = $2"
	qw "$1" "SELECT pg_reload_conf()" >/dev/null
	sleep 1
}

# wal_lsn NAME [QUERY]: the insert position, by qw (or QUERY: q for the
# repository, which does not preload the library)
wal_lsn() { "${2:-qw}" "$1" "SELECT pg_current_wal_insert_lsn()"; }

# set_target NAME TARGET: export to that repository (empty: locally)
set_target() {
	if [ -n "$2" ]; then
		qw "$1" "ALTER SYSTEM SET pg_stat_monitor.pgsm_export_target = '$2'"
	else
		qw "$1" "ALTER SYSTEM RESET pg_stat_monitor.pgsm_export_target"
	fi
	qw "$1" "SELECT pg_reload_conf()" >/dev/null
	sleep 1
}

# export_once NAME SIZE PASS [WALNAME]: fill the store with SIZE statements
# and export them; appends a line to $raw/export.tsv.  WAL is WALNAME's
# (the server written to; NAME by default).
export_once() {
	local name=$1 n=$2 pass=$3 walname=${4:-$1} raw="$OUT/raw/export"
	local before after entries t0 t1 i lsn0 wal

	set_export "$name" off
	before=$(info "$name" "exports")
	t0=$(date +%s.%N)
	qf "$name" "$WORK/exp/stmts-$n.sql" >/dev/null
	t1=$(date +%s.%N)
	entries=$(info "$name" "entries")

	local qwal=qw
	[ "$walname" = "$name" ] || qwal=q
	lsn0=$(wal_lsn "$walname" "$qwal")
	set_export "$name" on
	if [ "$(info "$name" "exports")" = "$before" ]; then
		qw "$name" "SELECT pg_stat_monitor_flush()" >/dev/null
	fi
	for ((i = 0; i < 600; i++)); do
		after=$(info "$name" "exports")
		[ "$after" != "$before" ] && break
		sleep 0.2
	done
	[ "$after" != "$before" ] ||
		cannot_measure "no export of $n entries ($pass) within 120 s"
	# the totals, added after the export (locally, where the worker does so)
	local totals="-"
	if [ "$walname" = "$name" ] && totals_later "$name"; then
		wait_totals "$name"
		totals=$(info "$name" "last_totals_ms")
	fi
	sleep 0.5
	wal=$("$qwal" "$walname" "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn0')")
	# exports made, rows written, duration, lock-hold time
	local row
	row=$(info "$name" "exports - $before, rows_exported, last_export_ms, last_lock_ms" | tr '|' '\t')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$pass" "$entries" "$(calc "$t1 - $t0")" "$row" "$wal" "$totals" >>"$raw/export.tsv"
	say "  $n entries ($pass): $row, WAL $wal B, totals $totals ms"
}

# floor_prepare NAME: the rows of the last export, aside (bench_src) and as
# a binary COPY file, and an empty copy of the history table (bench_copy).
floor_prepare() {
	local name=$1
	mkdir -p "$WORK/exp/bin"
	chown "$RUNNER" "$WORK/exp/bin"
	rm -f "$WORK/exp/bin/rows.copy"
	qw "$name" "DROP TABLE IF EXISTS bench_src, bench_copy"
	qw "$name" "CREATE TABLE bench_src AS SELECT * FROM pg_stat_monitor_entries
	            WHERE batch_id = (SELECT max(batch_id) FROM pg_stat_monitor_exports)"
	qw "$name" "COPY bench_src TO '$WORK/exp/bin/rows.copy' (FORMAT binary)"
	qw "$name" "CREATE TABLE bench_copy (LIKE pg_stat_monitor_entries INCLUDING ALL)
	            PARTITION BY RANGE (bucket_start_time)"
	qw "$name" "CREATE TABLE bench_copy_p PARTITION OF bench_copy FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"
	qw "$name" "VACUUM ANALYZE bench_src"
}

# floor_time NAME SIZE: INSERT ... SELECT and COPY FROM into bench_copy,
# three times each, appended, as an export appends to history: each run
# writes new pages, through buffers its session has not used; the copy is
# emptied after the three.  Then INSERT ... SELECT three times into the copy
# emptied before each run ("insert-emptied", the method of earlier runs),
# where each run reuses the buffers the last one freed.  Appends "size kind
# µs-per-row wal-per-row" lines.
floor_time() {
	local name=$1 n=$2 raw="$OUT/raw/export" f="$WORK/exp/floor.sql"
	{
		echo "SET synchronous_commit = off;"
		echo "\\timing on"
		for kind in insert copy insert-emptied; do
			for i in 1 2 3; do
				echo "SELECT pg_current_wal_insert_lsn() AS l0 \\gset"
				echo "\\echo M $kind"
				case $kind in
				insert*) echo "INSERT INTO bench_copy SELECT * FROM bench_src;" ;;
				copy) echo "COPY bench_copy FROM '$WORK/exp/bin/rows.copy' (FORMAT binary);" ;;
				esac
				echo "SELECT 'W', pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'l0');"
				if [ "$kind" = insert-emptied ]; then
					echo "TRUNCATE bench_copy;"
				fi
			done
			echo "TRUNCATE bench_copy;"
		done
	} >"$f"
	chmod a+r "$f"
	# shellcheck disable=SC2046
	as_pg env PGOPTIONS="-c pg_stat_monitor.pgsm_track=none" \
		psql -X -At -v ON_ERROR_STOP=1 $(conn "$name") -d postgres -f "$f" >"$raw/floor-$n.log" 2>&1 ||
		cannot_measure "the floor's statements failed (raw/export/floor-$n.log)"
	awk -v n="$n" '
		/^M / { kind = $2; want = 1; next }
		want && /^Time: / { t[kind] = t[kind] " " $2 * 1000 / n; want = 0; next }
		/^W\|/ { split($0, a, "|"); w[kind] = w[kind] " " a[2] / n }
		END { for (k in t) print k, t[k], "|", w[k] }' "$raw/floor-$n.log" |
		while read -r kind rest; do
			local times=${rest%%|*} wals=${rest#*|}
			printf '%s\t%s\t%s\t%s\n' "$n" "$kind" \
				"$(median_of "$times")" "$(median_of "$wals")"
		done >>"$raw/floor.tsv"
}

# cg_single NAME LABEL SQL: instructions of postgres --single running SQL
# (one statement a line), on the stopped cluster NAME, without the library.
cg_single() {
	local name=$1 label=$2 sql=$3 dir="$WORK/$1" out
	out="$WORK/exp/bin/single-$label.cg"
	rm -f "$out"
	printf '%s\n' "$sql" | as_pg valgrind --tool=callgrind --callgrind-out-file="$out" \
		postgres --single -D "$dir/data" -c shared_preload_libraries= \
		-c synchronous_commit=off postgres >"$WORK/exp/bin/single-$label.out" 2>&1 || true
	awk '$1 == "totals:" { print $2 }' "$out" 2>/dev/null
}

# export_callgrind NAME SIZE: instructions of the floor and of one export
# of SIZE entries; appends "size kind instructions-per-row" lines.  The
# server is running on entry, stopped on return.
export_callgrind() {
	local name=$1 n=$2 raw="$OUT/raw/export" dir="$WORK/$1"
	local base ins cp i cg="$WORK/exp/bin/cg-$n"

	# the floor, in a single-user backend (the cluster stopped)
	set_export "$name" off
	qw "$name" "SELECT pg_stat_monitor_reset()" >/dev/null
	qf "$name" "$WORK/exp/stmts-$n.sql" >/dev/null
	qw "$name" "ALTER SYSTEM SET pg_stat_monitor.pgsm_enable_table_export = on"
	cluster_stop "$name"
	[ -f "$dir/data/pg_stat/pg_stat_monitor.stat" ] ||
		cannot_measure "no saved store after a clean shutdown ($n entries)"
	# (the saved store is kept aside: single-user mode starts without the
	# library, but it is safer so)
	mv "$dir/data/pg_stat/pg_stat_monitor.stat" "$WORK/exp/bin/saved.stat"
	say "  callgrind, floor, $n rows"
	base=$(cg_single "$name" base "SELECT 1")
	ins=$(cg_single "$name" insert "INSERT INTO bench_copy SELECT * FROM bench_src
TRUNCATE bench_copy")
	cp=$(cg_single "$name" copy "COPY bench_copy FROM '$WORK/exp/bin/rows.copy' (FORMAT binary)
TRUNCATE bench_copy")
	local trunc
	trunc=$(cg_single "$name" truncate "TRUNCATE bench_copy")
	for v in "$base" "$ins" "$cp" "$trunc"; do
		[ -n "$v" ] || cannot_measure "callgrind on postgres --single gave no total ($WORK/exp/bin)"
	done
	printf '%s\tinsert\t%s\n' "$n" "$(calc "($ins - $trunc) / $n")" >>"$raw/cg.tsv"
	printf '%s\tcopy\t%s\n' "$n" "$(calc "($cp - $trunc) / $n")" >>"$raw/cg.tsv"
	mv "$WORK/exp/bin/saved.stat" "$dir/data/pg_stat/pg_stat_monitor.stat"
	chown "$RUNNER" "$dir/data/pg_stat/pg_stat_monitor.stat"

	# the export, by the worker of a server under callgrind
	cg_worker "$name" "$n" export
}

# cg_worker NAME SIZE KIND: start the stopped server NAME under callgrind,
# collecting inside export_batch (and fold_totals), until its worker has
# exported the saved store once (and, locally, added it to the totals when
# asked); appends "size KIND instructions-per-row exports rows", and
# "size totals instructions-per-row" for the totals added after.
cg_worker() {
	local name=$1 n=$2 kind=$3 raw="$OUT/raw/export" dir="$WORK/$1"
	local i cg="$WORK/exp/bin/cg-$n"
	say "  callgrind, $kind, $n entries"
	mkdir -p "$cg"
	chown "$RUNNER" "$cg"
	as_pg valgrind --tool=callgrind --trace-children=yes --collect-atstart=no \
		--toggle-collect=export_batch --toggle-collect=fold_totals \
		--callgrind-out-file="$cg/cg.%p" \
		postgres -D "$dir/data" >"$dir/valgrind.log" 2>&1 &
	local ok=""
	for ((i = 0; i < 3000; i++)); do
		sleep 1
		[ "$(info "$name" "exports" 2>/dev/null)" = 1 ] && { ok=1; break; }
	done
	local later=""
	if [ -n "$ok" ] && [ "$kind" = export ] && totals_later "$name"; then
		wait_totals "$name"
		later=1
	fi
	local nexp rows
	nexp=$(info "$name" "exports")
	rows=$(info "$name" "rows_exported")
	as_pg pg_ctl stop -D "$dir/data" -m fast -w -t 600 >/dev/null
	wait
	[ -n "$ok" ] || cannot_measure "no export under callgrind within 3000 s ($n entries)"
	local total
	total=$(cat "$cg"/cg.* | awk '$1 == "totals:" { s += $2 } END { print s + 0 }')
	# the worker's profile (the file with the most), for callgrind_annotate
	local f best=0 bestf=""
	for f in "$cg"/cg.*; do
		local t
		t=$(awk '$1 == "totals:" { print $2 }' "$f")
		[ "${t:-0}" -gt "$best" ] && best=$t bestf=$f
	done
	[ -n "$bestf" ] && cp "$bestf" "$raw/$kind-$n.callgrind"
	# the totals' share, apart: fold_totals, inclusive, in the worker's profile
	local totals=0
	if [ -n "$later" ]; then
		totals=$(callgrind_annotate --inclusive=yes "$bestf" 2>/dev/null |
			awk '$0 ~ /:fold_totals / && !done { gsub(/,/, "", $1); print $1; done = 1 }')
		[ -n "$totals" ] || cannot_measure "no fold_totals in the worker's profile ($n entries)"
		printf '%s\ttotals\t%s\n' "$n" "$(calc "$totals / $rows")" >>"$raw/cg.tsv"
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$kind" "$(calc "($total - $totals) / $rows")" "$nexp" "$rows" >>"$raw/cg.tsv"
	rm -rf "$cg"
}

# repository_callgrind NAME SIZE TARGET: instructions of one export of SIZE
# entries to the repository TARGET, on the worker, as export_callgrind
# counts the local one (the texts are new to the worker's connection, so
# all sent).  The server is stopped on entry and on return, its export
# target set to TARGET.
repository_callgrind() {
	local name=$1 n=$2 target=$3 dir="$WORK/$1"
	cluster_start "$name"
	set_export "$name" off
	qw "$name" "SELECT pg_stat_monitor_reset()" >/dev/null
	qf "$name" "$WORK/exp/stmts-$n.sql" >/dev/null
	qw "$name" "ALTER SYSTEM SET pg_stat_monitor.pgsm_export_target = '$target'"
	qw "$name" "ALTER SYSTEM SET pg_stat_monitor.pgsm_enable_table_export = on"
	cluster_stop "$name"
	[ -f "$dir/data/pg_stat/pg_stat_monitor.stat" ] ||
		cannot_measure "no saved store after a clean shutdown ($n entries, repository)"
	cg_worker "$name" "$n" repository
}

part_export() {
	local out="$OUT/4-export.md" raw="$OUT/raw/export"
	mkdir -p "$raw"
	say "part 4: export (entries: $EXPORT_SIZES)"
	exporter_available ||
		cannot_measure "the exporter (sql/pg_stat_monitor--2.0--2.1.sql, sql/pg_stat_monitor--2.1--2.2.sql) is not in this checkout"

	mkdir -p "$WORK/exp"
	local max_n=0
	for n in $EXPORT_SIZES; do
		distinct_statements "$n" bench_t >"$WORK/exp/stmts-$n.sql"
		[ "$n" -gt "$max_n" ] && max_n=$n
	done
	chmod -R a+rX "$WORK/exp"

	cluster_init exp
	cluster_conf exp "shared_preload_libraries = 'pg_stat_monitor'"
	cluster_start exp
	q exp "CREATE EXTENSION pg_stat_monitor"
	q exp "$(wide_table_sql bench_t)"
	# the current partitions, so that the exports measured do not make them
	q exp "SELECT pgsm_maintain_partitions()" >/dev/null
	local per_mb
	per_mb=$(info exp "entries_max")
	q exp "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_monitor'" >"$raw/version"
	# a repository too, where the extension can export to one: a second
	# server, the extension created but the library not preloaded
	local repo=""
	if [ "$EXPORT_REPO" = 1 ] &&
		[ "$(qw exp "SELECT count(*) FROM pg_settings WHERE name = 'pg_stat_monitor.pgsm_export_target'")" = 1 ]; then
		cluster_init repo
		cluster_start repo
		q repo "CREATE EXTENSION pg_stat_monitor"
		repo="host=$WORK/sock port=$(cat "$WORK/repo/port") user=postgres dbname=postgres"
	fi
	cluster_stop exp

	: >"$raw/export.tsv"
	: >"$raw/floor.tsv"
	: >"$raw/cg.tsv"
	local sizes_used=""
	for n in $EXPORT_SIZES; do
		# a store with room for n entries and some to spare, in whole MB
		local mb=$(((n * 11 / 10 + per_mb - 1) / per_mb))
		[ "$mb" -lt 1 ] && mb=1
		cluster_conf exp "shared_preload_libraries = 'pg_stat_monitor'" \
			"pg_stat_monitor.pgsm_max = '${mb}MB'"
		cluster_start exp
		sizes_used="$sizes_used $n:${mb}MB:$(info exp entries_max)"
		qw exp "SELECT pg_stat_monitor_reset()" >/dev/null
		export_once exp "$n" "new texts"
		# three times, as the floor runs three times (the median is compared)
		export_once exp "$n" "texts known"
		export_once exp "$n" "texts known"
		export_once exp "$n" "texts known"
		if [ -n "$repo" ]; then
			set_target exp "$repo"
			export_once exp "$n" "repository, new texts" repo
			export_once exp "$n" "repository, texts known" repo
			set_target exp ""
		fi
		floor_prepare exp
		floor_time exp "$n"
		if [[ " $EXPORT_CG_SIZES " == *" $n "* ]]; then
			export_callgrind exp "$n"
			if [ -n "$repo" ]; then
				repository_callgrind exp "$n" "$repo"
			fi
		else
			cluster_stop exp
		fi
		cluster_start exp
		set_export exp off
		if [ -n "$repo" ]; then
			set_target exp ""
		fi
		qw exp "DROP TABLE bench_src, bench_copy"
		cluster_stop exp
	done
	if [ -n "$repo" ]; then
		q repo "SELECT count(*), count(DISTINCT server_name) FROM pg_stat_monitor_entries" >"$raw/repo-rows"
		cluster_stop repo
	fi

	# b) bytes on disk, over what those exports wrote
	cluster_conf exp "shared_preload_libraries = 'pg_stat_monitor'"
	cluster_start exp
	set_export exp off
	qw exp "VACUUM ANALYZE pg_stat_monitor_entries"
	qw exp "VACUUM ANALYZE pg_stat_monitor_texts"
	qw exp "SELECT (SELECT count(*) FROM pg_stat_monitor_entries),
	               (SELECT sum(pg_table_size(partition)) FROM pgsm_partitions('pg_stat_monitor_entries')),
	               (SELECT sum(pg_indexes_size(partition)) FROM pgsm_partitions('pg_stat_monitor_entries')),
	               (SELECT count(*) FROM pg_stat_monitor_texts),
	               pg_table_size('pg_stat_monitor_texts'),
	               pg_indexes_size('pg_stat_monitor_texts'),
	               (SELECT avg(octet_length(text)) FROM pg_stat_monitor_texts)" |
		tail -n 1 >"$raw/disk"

	# c) refresh over one day, then thirty days of history
	export_refresh exp

	cluster_stop exp
	export_report "$sizes_used"
}

# export_refresh NAME: history of one and thirty days; refresh timings
export_refresh() {
	local name=$1 raw="$OUT/raw/export" r=$EXPORT_HISTORY_ROWS
	# rows to copy: r exported rows of distinct statements
	qw "$name" "ALTER SYSTEM SET pg_stat_monitor.pgsm_retention = '40d'"
	qw "$name" "SELECT pg_reload_conf()" >/dev/null
	qw "$name" "CREATE TABLE bench_template AS
	            SELECT DISTINCT ON (queryid) * FROM pg_stat_monitor_entries
	            ORDER BY queryid LIMIT $r"
	qw "$name" "TRUNCATE pg_stat_monitor_entries"
	local bt
	bt=$(qw "$name" "SELECT pgsm_setting_seconds('pg_stat_monitor.pgsm_bucket_time')" | tail -n 1)
	echo "$bt" >"$raw/bucket_time"

	# history_days FROM TO: r rows in every bucket from FROM to TO days ago
	history_days() {
		qw "$name" "SELECT pgsm_ensure_partition('pg_stat_monitor_entries', now() - d * interval '1 day')
		            FROM generate_series($1, $2 + 1) d" >/dev/null
		qw "$name" "INSERT INTO pg_stat_monitor_entries
		            SELECT (b.bucket), to_timestamp(b.bucket * $bt), t.userid, t.username,
		                   t.dbid, t.datname, t.client_ip, t.pgsm_query_id, t.queryid,
		                   t.toplevel, t.top_queryid, t.query_text_id, t.comments, t.planid,
		                   t.plan_text_id, t.top_query_text_id, t.application_name,
		                   t.relations, t.cmd_type, t.elevel, t.sqlcode, t.message,
		                   t.calls, t.total_exec_time, t.min_exec_time, t.max_exec_time,
		                   t.sum_var_exec_time, t.rows, t.shared_blks_hit, t.shared_blks_read,
		                   t.shared_blks_dirtied, t.shared_blks_written, t.local_blks_hit,
		                   t.local_blks_read, t.local_blks_dirtied, t.local_blks_written,
		                   t.temp_blks_read, t.temp_blks_written, t.blk_read_time,
		                   t.blk_write_time, t.temp_blk_read_time, t.temp_blk_write_time,
		                   t.resp_calls, t.cpu_user_time, t.cpu_sys_time, t.wal_records,
		                   t.wal_fpi, t.wal_bytes, t.plans, t.total_plan_time,
		                   t.min_plan_time, t.max_plan_time, t.sum_var_plan_time,
		                   t.jit_functions, t.jit_generation_time, t.jit_inlining_count,
		                   t.jit_inlining_time, t.jit_optimization_count,
		                   t.jit_optimization_time, t.jit_emission_count,
		                   t.jit_emission_time, t.batch_id, now()
		            FROM generate_series(floor(extract(epoch FROM now() - interval '$2 days') / $bt)::int8 + 1,
		                                 floor(extract(epoch FROM now() - interval '$1 days') / $bt)::int8) b(bucket),
		                 bench_template t"
		qw "$name" "VACUUM ANALYZE pg_stat_monitor_entries"
	}
	# refresh_times LABEL: five refreshes, as the worker runs them
	refresh_times() {
		local f="$raw/refresh-$1" refresh_view=pgsm_recent
		# (pg_stat_monitor itself before version 2.4)
		q "$name" "SELECT 1 FROM pg_matviews WHERE matviewname = 'pgsm_recent'" | grep -q 1 ||
			refresh_view=pg_stat_monitor
		as_pg psql -X -q $(conn "$name") -d postgres >"$f.log" 2>&1 <<EOF
SET pg_stat_monitor.pgsm_track = none;
\timing on
$(repeat 7 "REFRESH MATERIALIZED VIEW CONCURRENTLY $refresh_view;")
\timing off
$(repeat 3 "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) SELECT * FROM pg_stat_monitor_history WHERE bucket_start_time >= pgsm_window_start();")
SELECT 'tag_hist_rows', count(*) FROM pg_stat_monitor_entries;
SELECT 'tag_view_rows', count(*) FROM pg_stat_monitor;
SELECT 'tag_parts', count(*) FROM pgsm_partitions('pg_stat_monitor_entries');
EOF
		awk '/^Time: / { print $2 }' "$f.log" >"$f.times"
		awk '/Planning Time:/ { print $3 }' "$f.log" | median >"$f.plan"
		awk '/Execution Time:/ { print $3 }' "$f.log" | median >"$f.exec"
		awk '/Subplans Removed:/ { print $3; exit }' "$f.log" >"$f.pruned"
	}

	say "  history: one day"
	history_days 0 1
	qw "$name" "CREATE TABLE bench_first_day AS SELECT min(bucket_start_time) AS bucket_start_time FROM pg_stat_monitor_entries"
	refresh_times 1d
	say "  history: thirty days"
	history_days 1 30
	refresh_times 30d
	# back to one day: a change of conditions on the machine would show
	say "  history: one day again"
	qw "$name" "DO \$\$
	            DECLARE p regclass;
	            BEGIN
	                FOR p IN SELECT partition FROM pgsm_partitions('pg_stat_monitor_entries')
	                         WHERE upper_bound <= now() - interval '2 days' LOOP
	                    EXECUTE format('DROP TABLE %s', p);
	                END LOOP;
	            END
	            \$\$"
	qw "$name" "DELETE FROM pg_stat_monitor_entries
	            WHERE bucket_start_time <= now() - interval '1 day'
	              AND bucket_start_time < (SELECT min(bucket_start_time) FROM bench_first_day)"
	qw "$name" "VACUUM ANALYZE pg_stat_monitor_entries"
	refresh_times 1d-again
}

export_report() {
	local raw="$OUT/raw/export" out="$OUT/4-export.md" sizes_used=$1
	local worst_us=0 worst_lock=0 failed=0 worst_ratio=0 worst_iratio=0
	local worst_tratio=0 worst_tiratio=0
	{
		echo "## 4. Export"
		echo
		echo "Extension version $(cat "$raw/version" 2>/dev/null)."
		echo "For each size, the server starts with a store that holds that many entries and \`pgsm_enable_table_export = off\`; one psql session runs that many distinct statements (\`SELECT cA, cB, cC FROM bench_t\`, the columns differing); then export is turned on with a reload, and asked for with \`pg_stat_monitor_flush()\` if the worker has not begun."
		echo "The figures are the worker's own, from \`pg_stat_monitor_info\`: \`last_export_ms\` (freezing the batch, writing it in one transaction, releasing it) and \`last_lock_ms\` (the store's lock held exclusively: freeze plus release); WAL is the server's insert position before export is turned on and after the export (anything else the server wrote meanwhile included)."
		echo "The same statements are then run and exported three more times, when their texts are already stored (the usual case); the floor below is compared with the median of those three."
		echo "The worker adds what it exported to the totals of \`pg_stat_monitor_statements\` after the export, in a transaction of its own (src/totals.c): every five minutes, when \`pg_stat_monitor_flush()\` asks, or once the batches it keeps take \`maintenance_work_mem\`. After each local export the bench asks, and waits until no batch is pending: \"totals after\" is that addition (\`last_totals_ms\`), and the WAL covers the export and the addition."
		echo "Store sizes used (entries: pgsm_max: entries_max):$(echo "$sizes_used" | sed 's/ / /g')."
		echo
		echo "| entries | texts | exports | rows exported | export (ms) | per entry (µs) | lock held (ms) | totals after (ms) | per entry (µs) | WAL per entry (B) | filling the store (s) |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|"
		while IFS=$'\t' read -r n pass entries fill nexp rows ms lock wal totals; do
			local us tms="–" tus="–"
			us=$(calc "$ms * 1000 / $n")
			if [ -n "$totals" ] && [ "$totals" != "-" ]; then
				tms=$(fmt %.1f "$totals") tus=$(fmt %.2f "$(calc "$totals * 1000 / $n")")
			fi
			printf '| %s | %s | %s | %s | %.1f | **%.2f** | **%.3f** | %s | %s | %.0f | %.1f |\n' \
				"$n" "$pass" "$nexp" "$rows" "$ms" "$us" "$lock" "$tms" "$tus" "$(calc "$wal / $n")" "$fill"
			# the targets are the local export's: time, of the export with new
			# texts and of the median of three with texts known (below)
			case $pass in
			repository*) ;;
			*)
				if [ "$pass" = "new texts" ]; then
					worst_us=$(awk -v a="$worst_us" -v b="$us" 'BEGIN { print (b > a ? b : a) }')
				fi
				worst_lock=$(awk -v a="$worst_lock" -v b="$lock" 'BEGIN { print (b > a ? b : a) }')
				;;
			esac
			[ "$nexp" != 1 ] && failed=1
		done <"$raw/export.tsv"
		echo
		echo "\"rows exported\" is the worker's running total since the server started."
		if grep -q "repository" "$raw/export.tsv"; then
			echo
			echo "### To a repository"
			echo
			echo "Rows marked \"repository\" above: the same statements, run again and exported by the same server to a second server the bench started on the same machine (\`pg_stat_monitor.pgsm_export_target = 'host=<socket directory> port=... user=postgres dbname=postgres'\`, set with a reload; on the repository \`CREATE EXTENSION pg_stat_monitor\`, the library not preloaded), over its Unix socket: one remote transaction per batch (texts not yet sent by COPY and one upsert, rows by COPY BINARY, the totals, the record of the batch). The first repository pass sends every text (new to that connection), the second only the rows; each is set beside the first local export of its kind. For those rows WAL is the repository's (the exporting server writes none). The targets above are the local export's. Per entry, side by side:"
			echo
			echo "| entries | texts | local (µs per entry) | repository (µs per entry) | repository ÷ local | lock held, local (ms) | lock held, repository (ms) | WAL per entry, local (B) | WAL per entry, repository (B) |"
			echo "|---|---|---|---|---|---|---|---|---|"
			awk -F'\t' '{ us = $7 * 1000 / $1; p = $2; sub(/^repository, /, "", p); k = $1 "\t" p
			               if ($2 ~ /^repository/) { r[k] = us; rl[k] = $8; rw[k] = $9 / $1 }
			               else if (!(k in l)) { l[k] = us; ll[k] = $8; lw[k] = $9 / $1; o[++n] = k } }
			             END { for (i = 1; i <= n; i++) if (o[i] in r) { split(o[i], a, "\t")
			                   printf "| %s | %s | %.2f | %.2f | **%.2f** | %.3f | %.3f | %.0f | %.0f |\n", a[1], a[2], l[o[i]], r[o[i]], r[o[i]] / l[o[i]], ll[o[i]], rl[o[i]], lw[o[i]], rw[o[i]] } }' \
				"$raw/export.tsv"
			if grep -q "repository" "$raw/cg.tsv"; then
				echo
				echo "Instructions per entry on the exporting worker (callgrind, collecting inside \`export_batch\` as under \"Beside the floor\": the store a clean shutdown saved, texts new to the worker, so all sent; for the repository the worker's side only, libpq included, not the repository's server):"
				echo
				echo "| entries | local (instructions/entry) | repository (instructions/entry) | repository ÷ local |"
				echo "|---|---|---|---|"
				awk -F'\t' '$2 == "export" { l[$1] = $3; o[++n] = $1 } $2 == "repository" { r[$1] = $3 }
				             END { for (i = 1; i <= n; i++) if (o[i] in r)
				                   printf "| %s | %.0f | %.0f | **%.2f** |\n", o[i], l[o[i]], r[o[i]], r[o[i]] / l[o[i]] }' "$raw/cg.tsv"
			fi
			if [ -s "$raw/repo-rows" ]; then
				echo
				echo "At the end the repository held $(cut -d'|' -f1 "$raw/repo-rows") history rows from $(cut -d'|' -f2 "$raw/repo-rows") server(s)."
			fi
		fi
		echo
		echo "### Beside the floor"
		echo
		echo "The rows of the last export of each size, copied aside (\`bench_src\`) and to a binary COPY file, written again into a copy of the history table (\`CREATE TABLE ... (LIKE pg_stat_monitor_entries INCLUDING ALL) PARTITION BY RANGE (bucket_start_time)\`, one partition, the same indexes) by \`INSERT ... SELECT\` and by \`COPY ... FROM\` the file \`(FORMAT binary)\`: what PostgreSQL itself needs to store those rows, in the same run. Times: median of three, each statement committed with \`synchronous_commit = off\` (as the worker commits), the three appended to the copy as an export appends to history (each run writes new pages, through shared buffers its session has not used before) and the copy emptied after them. Earlier versions of this bench emptied the copy before each run instead, so that each reused the buffers the run before had just freed, already mapped into its session, which no export to history can do: that figure is kept beside, \"copy emptied before each run\", and the ratios use the appended floor."
		echo "Instructions (callgrind): the export's, on the worker of a server started under \`valgrind --tool=callgrind --trace-children=yes\`, collecting only inside \`export_batch\` (src/export.c: freezing, the whole transaction with its commit, releasing), exporting the store a clean shutdown saved (texts already stored, but new to the worker, so all sent again and met by the upsert); the floor's, a single-user backend (\`postgres --single\`, without the library) running the statement, less one running only \`TRUNCATE\` of the copy. The export writes more than the floor: its texts and the record of the batch; the floor is the rows alone. The totals of \`pg_stat_monitor_statements\` (each key's row updated, or inserted when new: src/totals.c) are added after, apart: under callgrind collected inside \`fold_totals\` (src/export.c, its transaction included) and told apart by \`callgrind_annotate --inclusive=yes\`; timed as above (\`last_totals_ms\`). \"+ totals\" is the export and that addition together, beside the same floor. Under callgrind the worker has just started, so it finds every total through the index; a worker that wrote the totals before fetches them where it left them (the timed second pass above)."
		echo
		echo "| entries | export, texts known, median of 3 (µs/entry) | INSERT ... SELECT (µs/row) | COPY BINARY (µs/row) | INSERT ... SELECT, copy emptied before each run (µs/row) | export ÷ best floor (time) | + totals (µs/entry) | + totals ÷ best floor (time) | export (instructions/entry) | INSERT ... SELECT (instructions/row) | COPY BINARY (instructions/row) | export ÷ best floor (instructions) | + totals (instructions/entry) | + totals ÷ best floor (instructions) | WAL, export and totals (B/entry) | WAL, INSERT ... SELECT (B/row) | WAL, COPY (B/row) |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		# per size, the median of the exports with texts known: time, totals, WAL
		awk -F'\t' '$2 == "texts known" { k[++m] = $1; ms[$1] = ms[$1] " " $7; t[$1] = t[$1] " " $10; w[$1] = w[$1] " " $9 }
		             END { for (i = 1; i <= m; i++) if (!(k[i] in done)) { done[k[i]] = 1
		                   print k[i] "\t" ms[k[i]] "\t" t[k[i]] "\t" w[k[i]] } }' "$raw/export.tsv" >"$raw/known.tsv"
		while IFS=$'\t' read -r n mss totalss wals; do
			local ms totals wal
			ms=$(median_of "$mss")
			wal=$(median_of "$wals")
			totals=$(median_of "$totalss")
			local us ius iins icp ins emptied cp wins wcp best ibest ratio iratio tus tratio tius tiratio
			us=$(calc "$ms * 1000 / $n")
			worst_us=$(awk -v a="$worst_us" -v b="$us" 'BEGIN { print (b > a ? b : a) }')
			ins=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "insert" { print $3 }' "$raw/floor.tsv")
			emptied=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "insert-emptied" { print $3 }' "$raw/floor.tsv")
			cp=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "copy" { print $3 }' "$raw/floor.tsv")
			wins=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "insert" { print $4 }' "$raw/floor.tsv")
			wcp=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "copy" { print $4 }' "$raw/floor.tsv")
			ius=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "export" { print $3 }' "$raw/cg.tsv")
			iins=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "insert" { print $3 }' "$raw/cg.tsv")
			icp=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "copy" { print $3 }' "$raw/cg.tsv")
			best=$(awk -v a="$ins" -v b="$cp" 'BEGIN { print (a < b ? a : b) }')
			ratio=$(calc "$us / $best")
			worst_ratio=$(awk -v a="$worst_ratio" -v b="$ratio" 'BEGIN { print (b > a ? b : a) }')
			tus="–" tratio="–"
			if [ -n "$totals" ] && [ "$totals" != "-" ]; then
				tus=$(calc "($ms + $totals) * 1000 / $n")
				tratio=$(calc "$tus / $best")
				worst_tratio=$(awk -v a="$worst_tratio" -v b="$tratio" 'BEGIN { print (b > a ? b : a) }')
				tus=$(fmt %.2f "$tus") tratio="**$(fmt %.2f "$tratio")**"
			fi
			tius=$(awk -v n="$n" -F'\t' '$1 == n && $2 == "totals" { print $3 }' "$raw/cg.tsv")
			if [ -n "$ius" ]; then
				ibest=$(awk -v a="$iins" -v b="$icp" 'BEGIN { print (a < b ? a : b) }')
				iratio=$(calc "$ius / $ibest")
				worst_iratio=$(awk -v a="$worst_iratio" -v b="$iratio" 'BEGIN { print (b > a ? b : a) }')
				tiratio="–"
				if [ -n "$tius" ]; then
					tius=$(calc "$ius + $tius")
					tiratio=$(calc "$tius / $ibest")
					worst_tiratio=$(awk -v a="$worst_tiratio" -v b="$tiratio" 'BEGIN { print (b > a ? b : a) }')
					tius=$(fmt %.0f "$tius") tiratio="**$(fmt %.2f "$tiratio")**"
				else
					tius="–"
				fi
				ius=$(fmt %.0f "$ius") iins=$(fmt %.0f "$iins") icp=$(fmt %.0f "$icp") iratio="**$(fmt %.2f "$iratio")**"
			else
				ius="–" iins="–" icp="–" iratio="–" tius="–" tiratio="–"
			fi
			printf '| %s | %.2f | %.2f | %.2f | %.2f | **%.2f** | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %.0f |\n' \
				"$n" "$us" "$ins" "$cp" "${emptied:-0}" "$ratio" "$tus" "$tratio" "$ius" "$iins" "$icp" "$iratio" \
				"$tius" "$tiratio" "$(calc "$wal / $n")" "$wins" "$wcp"
		done <"$raw/known.tsv"
		echo

		local rows tsize isize texts xsize xisize avglen
		IFS='|' read -r rows tsize isize texts xsize xisize avglen <"$raw/disk"
		echo "### Bytes on disk"
		echo
		echo "Over the rows and texts the exports above wrote (after VACUUM):"
		echo
		echo "| what | count | table | indexes | per row, table | per row, with indexes |"
		echo "|---|---|---|---|---|---|"
		printf '| history rows (pg_stat_monitor_entries, all partitions) | %s | %s | %s | %.0f B | %.0f B |\n' \
			"$rows" "$(bytes_h "$tsize")" "$(bytes_h "$isize")" "$(calc "$tsize / $rows")" "$(calc "($tsize + $isize) / $rows")"
		printf '| query texts (pg_stat_monitor_texts; average text %.0f bytes) | %s | %s | %s | %.0f B | %.0f B |\n' \
			"$avglen" "$texts" "$(bytes_h "$xsize")" "$(bytes_h "$xisize")" "$(calc "$xsize / $texts")" "$(calc "($xsize + $xisize) / $texts")"
		echo

		echo "### Refresh of the materialized view"
		echo
		echo "History made of $EXPORT_HISTORY_ROWS exported rows (distinct statements) copied into every bucket ($(cat "$raw/bucket_time") s buckets) of the last day, then of the last thirty days, then cut back to the last day; \`REFRESH MATERIALIZED VIEW CONCURRENTLY pgsm_recent\` (the materialized view \`pg_stat_monitor\` shows in \`pgsm_database\`), as the worker runs it, seven times each, with export off so that the worker does not refresh it meanwhile (\`pgsm_max_buckets\` at its default, 10)."
		echo
		echo "The view's query alone, under \`EXPLAIN ANALYZE\` (median of 3), splits the time between planning and execution; \"partitions pruned\" counts the partitions skipped when execution starts (run-time pruning, as the window's start is known only then), which the planner has nevertheless planned."
		echo
		echo "| history | rows in pg_stat_monitor_entries | partitions | rows in the view | refresh, median of 7 (ms) | all seven (ms) | view's query: planning (ms) | execution (ms) | partitions pruned |"
		echo "|---|---|---|---|---|---|---|---|---|"
		local m1 m30 m1b
		for h in 1d 30d 1d-again; do
			local f="$raw/refresh-$h" m
			m=$(median <"$f.times")
			case $h in 1d) m1=$m ;; 30d) m30=$m ;; *) m1b=$m ;; esac
			printf '| %s | %s | %s | %s | **%.1f** | %s | %.1f | %.1f | %s |\n' \
				"$(case $h in 1d) echo "one day" ;; 30d) echo "thirty days" ;; *) echo "one day again (older partitions dropped)" ;; esac)" \
				"$(awk -F'|' '$1 ~ /tag_hist_rows/ { gsub(/ /, "", $2); print $2 }' "$f.log")" \
				"$(awk -F'|' '$1 ~ /tag_parts/ { gsub(/ /, "", $2); print $2 }' "$f.log")" \
				"$(awk -F'|' '$1 ~ /tag_view_rows/ { gsub(/ /, "", $2); print $2 }' "$f.log")" \
				"$m" "$(tr '\n' ' ' <"$f.times" | sed 's/ $//')" \
				"$(cat "$f.plan")" "$(cat "$f.exec")" "$(cat "$f.pruned")"
		done
		echo
		echo "$m1 $m30 $m1b" >"$raw/refresh-medians"
	} >"$out"

	local verdict=met note="worst of every size: the export with new texts, and the median of three with texts known; lock: worst of every export"
	if [ "$failed" = 1 ]; then
		verdict=MISSED
		note="an export did not happen as one batch; see part 4"
	elif ! awk -v u="$worst_us" -v l="$worst_lock" 'BEGIN { exit !(u <= 10 && l < 1) }'; then
		verdict=MISSED
		note="worst of every size: the export with new texts, and the median of three with texts known; lock: worst of every export; see part 4"
	fi
	target "export ≤ 10 µs per entry, lock held < 1 ms per flush" \
		"$(fmt %.2f "$worst_us") µs per entry, lock $(fmt %.3f "$worst_lock") ms" "$verdict" "$note"
	verdict=met
	awk -v r="$worst_ratio" -v i="$worst_iratio" 'BEGIN { exit !(r <= 1.5 && i <= 1.5) }' || verdict=MISSED
	note="worst of every size, texts known (median of three), beside the floor appended; see part 4"
	if [ "$worst_tratio" != 0 ]; then
		note="the export alone, worst of every size, texts known (median of three), beside the floor appended; with the totals added after it: $(fmt %.2f "$worst_tratio")× in time, $(fmt %.2f "$worst_tiratio")× in instructions; see part 4"
	fi
	target "export within 1.5× of the floor (best of INSERT ... SELECT and COPY BINARY of the same rows)" \
		"$(fmt %.2f "$worst_ratio")× in time, $(fmt %.2f "$worst_iratio")× in instructions" "$verdict" \
		"$note"

	read -r m1 m30 m1b <"$raw/refresh-medians"
	local ratio measured
	# against both one-day measurements, the one before and the one after
	ratio=$(calc "2 * $m30 / ($m1 + $m1b)")
	measured="$(fmt %.1f "$m1") ms (1 day), $(fmt %.1f "$m30") ms (30 days), $(fmt %.1f "$m1b") ms (1 day again)"
	if awk -v r="$ratio" 'BEGIN { exit !(r <= 1.5) }'; then
		target "view refresh does not grow with history" "$measured" met "30 days ÷ mean of the 1-day runs = $(fmt %.2f "$ratio"); met means at most 1.5"
	else
		target "view refresh does not grow with history" "$measured" MISSED "30 days ÷ mean of the 1-day runs = $(fmt %.2f "$ratio"); met means at most 1.5; see part 4"
	fi
}
