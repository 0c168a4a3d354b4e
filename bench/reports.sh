# bench/reports.sh: part 8, the HTML reports over a day and thirty days.
#
# History for $REPORTS_STATEMENTS statements active in every one-minute
# bucket (the default pgsm_bucket_time) for thirty days, laid out as the
# worker leaves it with its defaults (pgsm_compact_after = 3h, one-day
# partitions): the last whole day fresh in pg_stat_monitor_entries, the
# twenty-nine before it compacted in pg_stat_monitor_compact.
#
# How it is made: a day of rows is written into pg_stat_monitor_entries by
# part 7's generator (history_day in bench/compact.sh: the exporter's
# columns, counters of a read-mostly workload) and compacted by
# pg_stat_monitor_compact(), as the worker would; its compact rows are then
# copied to the twenty-eight days before it, their bucket numbers and times
# shifted by whole days (compacting each day would give the same rows and
# take half an hour more), and so are its hourly and daily rollups, made by
# that compaction.  Then the last day is written fresh by the same
# generator.
#
# Measured, median of 3 (one run when a run takes over a minute):
# pg_stat_monitor_report() over one fresh day, one compacted day and thirty
# days; pg_stat_monitor_diff_report() of two days and of two halves of the
# thirty days; the size of each HTML document.  Export is off, so that the
# worker neither writes nor compacts meanwhile.

REPORTS_STATEMENTS=${BENCH_REPORTS_STATEMENTS:-1000}
REPORTS_DAYS=${BENCH_REPORTS_DAYS:-30}
# a run that takes longer is cancelled and reported as such
REPORTS_TIMEOUT=${BENCH_REPORTS_TIMEOUT:-1800}

reports_available() {
	grep -q pg_stat_monitor_diff_report "$WORK/build/sql/pg_stat_monitor--2.4.sql" 2>/dev/null
}

# reports_time NAME LABEL SQL: run SQL (which returns the document's size)
# once, and twice more if it took under a minute; writes LABEL.ms (every
# time, in ms) and LABEL.bytes
reports_time() {
	local name=$1 label=$2 sql=$3 raw="$OUT/raw/reports" f i ms
	f="$WORK/rep/$label.sql"
	: >"$raw/$label.ms"
	for i in 1 2 3; do
		{
			echo "SET statement_timeout = '${REPORTS_TIMEOUT}s';"
			echo "\\timing on"
			echo "SELECT 'tag_size', $sql;"
		} >"$f"
		chmod a+r "$f"
		# shellcheck disable=SC2046
		if ! as_pg env PGOPTIONS="-c pg_stat_monitor.pgsm_track=none" \
			psql -X -q -At -v ON_ERROR_STOP=1 $(conn "$name") -d postgres -f "$f" \
			>"$raw/$label.log" 2>&1; then
			grep -q 'statement timeout' "$raw/$label.log" ||
				{ cat "$raw/$label.log" >&2; return 1; }
			echo "timeout" >>"$raw/$label.ms"
			return 0
		fi
		awk -F'|' '/^tag_size/ { print $2 }' "$raw/$label.log" >"$raw/$label.bytes"
		ms=$(awk '/^Time:/ { print $2 }' "$raw/$label.log")
		echo "$ms" >>"$raw/$label.ms"
		awk -v t="$ms" 'BEGIN { exit !(t < 60000) }' || break
	done
}

part_reports() {
	local raw="$OUT/raw/reports" name=rep
	mkdir -p "$raw" "$WORK/rep"
	chmod a+rx "$WORK/rep"
	say "part 8: reports ($REPORTS_STATEMENTS statements, $REPORTS_DAYS days of one-minute buckets)"
	reports_available ||
		cannot_measure "pg_stat_monitor_report is not in this checkout"

	cluster_init $name
	cluster_conf $name "shared_preload_libraries = 'pg_stat_monitor'" \
		"pg_stat_monitor.pgsm_enable_table_export = off" \
		"pg_stat_monitor.pgsm_retention = '$((REPORTS_DAYS + 10))d'" \
		"pg_stat_monitor.pgsm_rollup_hourly_retention = '$((REPORTS_DAYS + 10))d'" \
		"pg_stat_monitor.pgsm_history_max_size = 0" \
		"max_wal_size = '4GB'"
	cluster_start $name
	q $name "CREATE EXTENSION pg_stat_monitor"
	q $name "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_monitor'" >"$raw/version"

	# d0: the start of today (UTC); the last whole day is [d0 - 1 day, d0)
	local d0 t0
	d0=$(qw $name "SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")
	qw $name "SELECT pgsm_ensure_partition('pg_stat_monitor_entries', '$d0'::timestamptz - d * interval '1 day')
	          FROM generate_series(0, $REPORTS_DAYS) d" >/dev/null
	qw $name "INSERT INTO pg_stat_monitor_texts (text_id, text)
	          SELECT s, 'SELECT c' || s || ' FROM bench_t WHERE id = \$1' FROM generate_series(1, $REPORTS_STATEMENTS) s"

	say "  the day before the last: written, then compacted"
	t0=$(date +%s)
	history_day $name "$(qw $name "SELECT '$d0'::timestamptz - interval '2 days'")" "$REPORTS_STATEMENTS" 1440
	echo $(($(date +%s) - t0)) >"$raw/write-secs"
	t0=$(date +%s)
	qw $name "SELECT sum(entries), sum(compact_rows) FROM pg_stat_monitor_compact()" >"$raw/compacted"
	echo $(($(date +%s) - t0)) >"$raw/compact-secs"

	say "  its compact rows copied to the $((REPORTS_DAYS - 2)) days before it"
	t0=$(date +%s)
	local k src
	src=$(qw $name "SELECT '$d0'::timestamptz - interval '2 days'")
	for ((k = 1; k <= REPORTS_DAYS - 2; k++)); do
		history_copy_compacted $name "$src" $k
	done
	echo $(($(date +%s) - t0)) >"$raw/copy-secs"

	say "  the last day: written fresh"
	history_day $name "$(qw $name "SELECT '$d0'::timestamptz - interval '1 day'")" "$REPORTS_STATEMENTS" 1440
	qw $name "VACUUM ANALYZE"
	qw $name "SELECT (SELECT count(*) FROM pg_stat_monitor_entries),
	                 (SELECT coalesce(sum(pg_total_relation_size(partition)), 0) FROM pgsm_partitions('pg_stat_monitor_entries')),
	                 (SELECT count(*) FROM pg_stat_monitor_compact),
	                 (SELECT coalesce(sum(compact_rows), 0) FROM pg_stat_monitor_compact),
	                 (SELECT coalesce(sum(pg_total_relation_size(partition)), 0) FROM pgsm_partitions('pg_stat_monitor_compact'))" \
		>"$raw/sizes"

	local day1="'$d0'::timestamptz - interval '1 day'" day2="'$d0'::timestamptz - interval '2 days'"
	local first="'$d0'::timestamptz - interval '$REPORTS_DAYS days'"
	local mid="'$d0'::timestamptz - interval '$((REPORTS_DAYS / 2)) days'"
	say "  reports"
	reports_time $name report-fresh "octet_length(pg_stat_monitor_report($day1, '$d0'))"
	reports_time $name report-compact "octet_length(pg_stat_monitor_report($day2, $day1))"
	reports_time $name report-30 "octet_length(pg_stat_monitor_report($first, '$d0'))"
	reports_time $name diff-days "octet_length(pg_stat_monitor_diff_report($day2, $day1, $day1, '$d0'))"
	reports_time $name diff-30 "octet_length(pg_stat_monitor_diff_report($first, $mid, $mid, '$d0'))"
	# one report kept, to look at
	# shellcheck disable=SC2046
	as_pg psql -X -q -At $(conn $name) -d postgres \
		-c "SELECT pg_stat_monitor_report($first, '$d0')" >"$raw/report-30.html" 2>&1 || true
	cluster_stop $name
	reports_report
}

reports_report() {
	local raw="$OUT/raw/reports" out="$OUT/8-reports.md"
	local frows fbytes crows cstmt cbytes label what worst=0 timedout=""
	IFS='|' read -r frows fbytes crows cstmt cbytes <"$raw/sizes"
	{
		echo "## 8. Reports"
		echo
		echo "Extension version $(cat "$raw/version" 2>/dev/null)."
		echo "History of $REPORTS_STATEMENTS statements active in every one-minute bucket (the default \`pgsm_bucket_time\`) for $REPORTS_DAYS days, laid out as the worker leaves it at its defaults (\`pgsm_compact_after = 3h\`, one-day partitions): the last whole day fresh in \`pg_stat_monitor_entries\`, the $((REPORTS_DAYS - 1)) days before it compacted. A day of rows was written by part 7's generator (\`history_day\` in \`bench/compact.sh\`: the exporter's columns, counters of a read-mostly workload; no errors, plans or slots) and compacted by \`pg_stat_monitor_compact()\` ($(cat "$raw/compact-secs") s), and its compact rows and rollups copied to the days before it with their times shifted ($(cat "$raw/copy-secs") s); then the last day written fresh."
		printf 'Fresh: %s rows, %s. Compacted: %s rows holding %s statement-buckets, %s.\n' \
			"$frows" "$(bytes_h "$fbytes")" "$crows" "$cstmt" "$(bytes_h "$cbytes")"
		echo "Each report was timed with \`psql\`'s \`\\timing\` (\`SELECT octet_length(...)\`), three times and the median shown, or once when it took over a minute; the machine was shared with other work (load in the line above)."
		echo
		echo "| report | range | time (ms) | every run (ms) | HTML |"
		echo "|---|---|---|---|---|"
		for label in report-fresh report-compact report-30 diff-days diff-30; do
			case $label in
			report-fresh) what="\`pg_stat_monitor_report\`|the last day (fresh)" ;;
			report-compact) what="\`pg_stat_monitor_report\`|the day before (compacted)" ;;
			report-30) what="\`pg_stat_monitor_report\`|$REPORTS_DAYS days" ;;
			diff-days) what="\`pg_stat_monitor_diff_report\`|the day before against the last day" ;;
			diff-30) what="\`pg_stat_monitor_diff_report\`|$((REPORTS_DAYS / 2)) days against the next $((REPORTS_DAYS / 2))" ;;
			esac
			if grep -q timeout "$raw/$label.ms"; then
				timedout="$timedout $label"
				printf '| %s | over %s s (cancelled) | %s | |\n' "$what" "$REPORTS_TIMEOUT" \
					"$(tr '\n' ' ' <"$raw/$label.ms" | sed 's/ $//')"
				continue
			fi
			local m
			m=$(median <"$raw/$label.ms")
			printf '| %s | **%.0f** | %s | %s |\n' "$what" "$m" \
				"$(tr '\n' ' ' <"$raw/$label.ms" | sed 's/ $//')" "$(bytes_h "$(cat "$raw/$label.bytes")")"
			echo "$label $m" >>"$raw/medians"
		done
		echo
	} >"$out"

	local d1 d30
	d1=$(awk '$1 == "report-fresh" { print $2 }' "$raw/medians" 2>/dev/null)
	d30=$(awk '$1 == "report-30" { print $2 }' "$raw/medians" 2>/dev/null)
	if [ -n "$timedout" ] || [ -z "$d1" ] || [ -z "$d30" ]; then
		target "a report of thirty days in under a minute" "see part 8" MISSED "cancelled after $REPORTS_TIMEOUT s:$timedout"
	elif awk -v a="$d30" 'BEGIN { exit !(a < 60000) }'; then
		target "a report of thirty days in under a minute" "$(fmt %.1f "$(calc "$d1 / 1000")") s (one day), $(fmt %.1f "$(calc "$d30 / 1000")") s ($REPORTS_DAYS days)" met "$REPORTS_STATEMENTS statements per one-minute bucket; part 8"
	else
		target "a report of thirty days in under a minute" "$(fmt %.1f "$(calc "$d1 / 1000")") s (one day), $(fmt %.1f "$(calc "$d30 / 1000")") s ($REPORTS_DAYS days)" MISSED "$REPORTS_STATEMENTS statements per one-minute bucket; part 8"
	fi
}
