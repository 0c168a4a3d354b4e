# bench/flood.sh: part 5, a flood of distinct statements.
#
# A server at the default store size (pgsm_max = 1MB) runs 50,000
# statements with distinct query ids from one psql session, as fast as it
# can.  Then the worker is asked to export what is left, and the statements
# recorded (calls in the history pg_stat_monitor_entries plus those still in
# the store, pg_stat_monitor_live) are compared with those executed.  The
# same flood with export off shows what the store alone can keep.

FLOOD_N=${BENCH_FLOOD_N:-50000}

# flood_run NAME EXPORT: one flood; appends a line to $raw/flood.tsv
flood_run() {
	local name=$1 export=$2 raw="$OUT/raw/flood"
	local t0 t1 i live hist before
	set_export "$name" "$export"
	qw "$name" "SELECT pg_stat_monitor_reset()" >/dev/null
	local early0 fail0
	read -r before early0 fail0 < <(info "$name" "exports, early_flushes, export_failures" | tr "|" " ")
	local since
	since=$(qw "$name" "SELECT now()")
	t0=$(date +%s.%N)
	qf "$name" "$WORK/flood/stmts.sql" >/dev/null
	t1=$(date +%s.%N)
	local stats
	stats=$(info "$name" "exports - $before, early_flushes - $early0, calls_folded, entries_folded, export_failures - $fail0")

	# what is left in the store goes to history (when export is on)
	# (overflow rows, queryid NULL, hold what the store had no room for;
	# only the flood is recorded on this server)
	local sum_live="SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_live WHERE query LIKE '%bench_flood%' OR queryid IS NULL"
	if [ "$export" = on ]; then
		qw "$name" "SELECT pg_stat_monitor_flush()" >/dev/null
		for ((i = 0; i < 300; i++)); do
			live=$(qw "$name" "$sum_live")
			[ "$live" = 0 ] && break
			sleep 0.2
		done
		sleep 0.5
	fi
	live=$(qw "$name" "$sum_live")
	hist=$(qw "$name" "SELECT coalesce(sum(d.calls), 0), count(DISTINCT d.queryid)
	                    FROM pg_stat_monitor_entries d JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	                    WHERE t.text LIKE '%bench_flood%' OR d.queryid IS NULL")
	# the exports of the flood: largest, and longest time between two starts
	local batches
	batches=$(qw "$name" "SELECT coalesce(max(rows), 0),
	                             coalesce(round(extract(epoch FROM max(gap)) * 1000), 0)
	                      FROM (SELECT rows, exported_at - lag(exported_at) OVER (ORDER BY batch_id) AS gap
	                            FROM pg_stat_monitor_exports WHERE exported_at >= '$since') e")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$export" "$(calc "$t1 - $t0")" "$stats" "$hist" "$live" \
		"$(info "$name" "exports - $before")" "$batches" | tr '|' '\t' >>"$raw/flood.tsv"
	say "  export $export: $(tail -n 1 "$raw/flood.tsv" | tr '\t' ' ')"
	# a later run counts only its own
	qw "$name" "TRUNCATE pg_stat_monitor_entries" >/dev/null
}

part_flood() {
	local out="$OUT/5-flood.md" raw="$OUT/raw/flood"
	mkdir -p "$raw"
	say "part 5: flood of $FLOOD_N distinct statements"
	exporter_available || cannot_measure "the exporter is not in this checkout"

	mkdir -p "$WORK/flood"
	distinct_statements "$FLOOD_N" bench_flood >"$WORK/flood/stmts.sql"
	chmod -R a+rX "$WORK/flood"

	cluster_init flood
	cluster_conf flood "shared_preload_libraries = 'pg_stat_monitor'"
	cluster_start flood
	q flood "CREATE EXTENSION pg_stat_monitor"
	q flood "$(wide_table_sql bench_flood)"
	# let the worker find the extension and make its partitions first
	qw flood "SELECT pg_stat_monitor_flush()" >/dev/null
	sleep 3
	local entries_max
	entries_max=$(info flood "entries_max")

	: >"$raw/flood.tsv"
	flood_run flood on
	flood_run flood off
	cluster_stop flood

	local lost=""
	{
		echo "## 5. Distinct-statement flood"
		echo
		echo "$FLOOD_N statements with distinct query ids (\`SELECT cA, cB, cC FROM bench_flood\`, the columns differing), run by one psql session as fast as it goes, on a server with the store at its default size (\`pgsm_max = 1MB\`: room for $entries_max entries)."
		echo "Recorded = calls in the history (\`pg_stat_monitor_entries\`) plus calls still in the store (\`pg_stat_monitor_live\`), overflow rows included, after the worker was asked to export what was left."
		echo "The same flood with export off shows what the store alone keeps."
		echo "The worker is asked to export early when the store is a quarter full (\`PGSM_HIGH_WATER\` in src/store.c); \"longest between two exports\" is the longest time between the starts of two consecutive exports' transactions (\`pg_stat_monitor_exports.exported_at\`) during the flood and the final flush."
		echo
		echo "| export | executed | recorded | distinct statements in history | in the store | lost | flood time (s) | statements/s | exports during the flood | of which early | largest export (rows) | longest between two exports (ms) | calls folded | entries folded | export failures |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		while IFS=$'\t' read -r export secs nexp early cdrop edrop fail hsum hdist live nexp_all maxrows maxgap; do
			local rec=$((hsum + live))
			local l=$((FLOOD_N - rec))
			if [ "$export" = off ]; then maxrows="–" maxgap="–"; fi
			printf '| %s | %d | **%d** | %d | %d | **%d** | %.1f | %.0f | %d | %d | %s | %s | %d | %d | %d |\n' \
				"$export" "$FLOOD_N" "$rec" "$hdist" "$live" "$l" "$secs" "$(calc "$FLOOD_N / $secs")" \
				"$nexp" "$early" "$maxrows" "$maxgap" "$cdrop" "$edrop" "$fail"
			[ "$export" = on ] && lost=$l
		done <"$raw/flood.tsv"
		echo
	} >"$out"

	if [ "$lost" = 0 ]; then
		target "nothing lost in a flood of $FLOOD_N distinct statements" "0 lost" met "export on, default store size"
	else
		target "nothing lost in a flood of $FLOOD_N distinct statements" "${lost:-?} lost" MISSED "export on, default store size; see part 5"
	fi
}
