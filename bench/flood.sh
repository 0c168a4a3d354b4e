# bench/flood.sh: part 5, floods of distinct statements.
#
# A server at the default store size (pgsm_max = 1MB) runs 50,000 and then
# 200,000 statements with distinct query ids, from one psql session and
# from four at once (each its own share, on tables of its own), as fast as
# they go; then, from one session, 50,000 paced at 20,000 a second.  After
# each flood the worker is asked to export what is left, and the calls
# recorded (calls in the history pg_stat_monitor_entries plus those still
# in the store, pg_stat_monitor_live, overflow rows included) are compared
# with the statements executed: lost = executed - recorded.  Calls folded
# (pg_stat_monitor_info.calls_folded) are those a full store added to an
# overflow row.

FLOOD_SIZES=${BENCH_FLOOD_SIZES:-"50000 200000"}
FLOOD_CLIENTS=${BENCH_FLOOD_CLIENTS:-"1 4"}
FLOOD_PACED_N=${BENCH_FLOOD_PACED_N:-50000}
FLOOD_RATE=${BENCH_FLOOD_RATE:-20000}
# statements a table gives distinct query ids (at most 125,000)
FLOOD_PER_TABLE=100000
FLOOD_MAX_TABLES=8

# flood_file COUNT CLIENT FILE: COUNT distinct statements for one client,
# on its own tables (bench_flood_CLIENT_J)
flood_file() {
	local n=$1 c=$2 f=$3 j=0
	: >"$f"
	while [ "$n" -gt 0 ]; do
		local k=$((n > FLOOD_PER_TABLE ? FLOOD_PER_TABLE : n))
		distinct_statements "$k" "bench_flood_${c}_$j" >>"$f"
		n=$((n - k))
		j=$((j + 1))
	done
}

# flood_paced FILE RATE: the file's lines, in chunks, at RATE a second.
# Times come from bash itself ($EPOCHREALTIME, in microseconds): a process
# per chunk to read the clock would cost more than the chunk's schedule.
flood_paced() {
	local f=$1 rate=$2 chunk=500 t0 k=0 ahead p
	split -l "$chunk" "$f" "$f.part."
	t0=${EPOCHREALTIME/./}
	for p in "$f".part.*; do
		cat "$p"
		k=$((k + 1))
		ahead=$((k * chunk * 1000000 / rate - (${EPOCHREALTIME/./} - t0)))
		if [ "$ahead" -gt 0 ]; then
			sleep "$(printf '%d.%06d' $((ahead / 1000000)) $((ahead % 1000000)))"
		fi
	done
	rm -f "$f".part.*
}

# flood_run NAME COUNT CLIENTS [RATE]: one flood; appends a line to
# $raw/flood.tsv
flood_run() {
	local name=$1 n=$2 clients=$3 rate=${4:-} raw="$OUT/raw/flood"
	local t0 t1 i live hist before per=$(($2 / $3))
	for ((c = 0; c < clients; c++)); do
		flood_file "$per" "$c" "$WORK/flood/stmts-$c.sql"
	done
	chmod -R a+rX "$WORK/flood"
	qw "$name" "SELECT pg_stat_monitor_reset()" >/dev/null
	local early0 fail0 folded0
	read -r before early0 fail0 folded0 < <(info "$name" "exports, early_flushes, export_failures, calls_folded" | tr "|" " ")
	local since
	since=$(qw "$name" "SELECT now()")
	t0=$(date +%s.%N)
	local pids=""
	for ((c = 0; c < clients; c++)); do
		if [ -n "$rate" ]; then
			# shellcheck disable=SC2046
			flood_paced "$WORK/flood/stmts-$c.sql" "$rate" |
				as_pg psql -X -q -At -v ON_ERROR_STOP=1 $(conn "$name") -d postgres -f - >/dev/null &
		else
			qf "$name" "$WORK/flood/stmts-$c.sql" >/dev/null &
		fi
		pids="$pids $!"
	done
	local status=0 pid
	for pid in $pids; do wait "$pid" || status=1; done
	t1=$(date +%s.%N)
	[ "$status" = 0 ] || cannot_measure "a flood client failed ($n statements, $clients clients)"
	local stats
	stats=$(info "$name" "exports - $before, early_flushes - $early0, calls_folded - $folded0, export_failures - $fail0")

	# what is left in the store goes to history (overflow rows, queryid
	# NULL, hold what the store had no room for; only the flood is
	# recorded on this server)
	local sum_live="SELECT coalesce(sum(calls), 0) FROM pg_stat_monitor_live WHERE query LIKE '%bench_flood%' OR queryid IS NULL"
	qw "$name" "SELECT pg_stat_monitor_flush()" >/dev/null
	for ((i = 0; i < 600; i++)); do
		live=$(qw "$name" "$sum_live")
		[ "$live" = 0 ] && break
		sleep 0.2
	done
	sleep 0.5
	live=$(qw "$name" "$sum_live")
	hist=$(qw "$name" "SELECT coalesce(sum(d.calls), 0), count(DISTINCT d.queryid)
	                    FROM pg_stat_monitor_entries d LEFT JOIN pg_stat_monitor_texts t ON t.text_id = d.query_text_id
	                    WHERE t.text LIKE '%bench_flood%' OR d.queryid IS NULL")
	# the exports of the flood: largest, and longest time between two starts
	local batches
	batches=$(qw "$name" "SELECT coalesce(max(rows), 0),
	                             coalesce(round(extract(epoch FROM max(gap)) * 1000), 0)
	                      FROM (SELECT rows, exported_at - lag(exported_at) OVER (ORDER BY batch_id) AS gap
	                            FROM pg_stat_monitor_exports WHERE exported_at >= '$since') e")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$clients" "${rate:-max}" "$(calc "$t1 - $t0")" \
		"$stats" "$hist" "$live" "$batches" | tr '|' '\t' >>"$raw/flood.tsv"
	say "  $n statements, $clients clients, rate ${rate:-max}: $(tail -n 1 "$raw/flood.tsv" | tr '\t' ' ')"
	# a later run counts only its own
	qw "$name" "TRUNCATE pg_stat_monitor_entries" >/dev/null
	rm -f "$WORK"/flood/stmts-*.sql
}

part_flood() {
	local out="$OUT/5-flood.md" raw="$OUT/raw/flood"
	mkdir -p "$raw"
	say "part 5: floods of distinct statements ($FLOOD_SIZES; clients $FLOOD_CLIENTS; $FLOOD_PACED_N at $FLOOD_RATE/s)"
	exporter_available || cannot_measure "the exporter is not in this checkout"

	mkdir -p "$WORK/flood"
	chmod a+rx "$WORK/flood"

	cluster_init flood
	cluster_conf flood "shared_preload_libraries = 'pg_stat_monitor'"
	cluster_start flood
	q flood "CREATE EXTENSION pg_stat_monitor"
	for ((c = 0; c < 4; c++)); do
		for ((j = 0; j < FLOOD_MAX_TABLES / 4; j++)); do
			qw flood "$(wide_table_sql "bench_flood_${c}_$j")"
		done
	done
	# let the worker find the extension and make its partitions first
	qw flood "SELECT pg_stat_monitor_flush()" >/dev/null
	sleep 3
	# nothing but the floods in history
	qw flood "TRUNCATE pg_stat_monitor_entries"
	local entries_max
	entries_max=$(info flood "entries_max")

	: >"$raw/flood.tsv"
	for n in $FLOOD_SIZES; do
		for c in $FLOOD_CLIENTS; do
			flood_run flood "$n" "$c"
		done
	done
	flood_run flood "$FLOOD_PACED_N" 1 "$FLOOD_RATE"
	cluster_stop flood

	local worst_lost=0 paced_folded="?" paced_rate="?"
	# one-client floods, paced or not, that reached the rate asked for
	local fast_n=0 fast_folded=0 fast_rate=""
	{
		echo "## 5. Distinct-statement floods"
		echo
		echo "Statements with distinct query ids (\`SELECT cA, cB, cC FROM bench_flood_C_J\`, the columns differing, each client on tables of its own), run by one psql session or by four at once (each a quarter), as fast as they go, then by one session paced at $FLOOD_RATE a second (chunks of 500 statements sent on a schedule), on a server with the store at its default size (\`pgsm_max = 1MB\`: room for $entries_max entries), export on."
		echo "Recorded = calls in the history (\`pg_stat_monitor_entries\`) plus calls still in the store (\`pg_stat_monitor_live\`), overflow rows included, after the worker was asked to export what was left; lost = executed - recorded."
		echo "Folded = calls a full store added to its overflow rows (\`calls_folded\`: kept, counted, but not under their own query id)."
		echo "The worker exports early when the store passes its high-water mark, which adapts to the rate it fills (src/store.c, \`adapt_high_water\`); \"longest between two exports\" is the longest time between the starts of two consecutive exports' transactions (\`pg_stat_monitor_exports.exported_at\`) during the flood and the final flush."
		echo
		echo "| executed | clients | rate asked (statements/s) | recorded | lost | folded | distinct statements in history | flood time (s) | statements/s | exports during the flood | of which early | largest export (rows) | longest between two exports (ms) | export failures |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		while IFS=$'\t' read -r n clients rate secs nexp early folded fail hsum hdist live maxrows maxgap; do
			local rec=$((hsum + live))
			local l=$((n - rec))
			printf '| %d | %d | %s | **%d** | **%d** | **%d** | %d | %.1f | %.0f | %d | %d | %s | %s | %d |\n' \
				"$n" "$clients" "$rate" "$rec" "$l" "$folded" "$hdist" "$secs" "$(calc "$n / $secs")" \
				"$nexp" "$early" "$maxrows" "$maxgap" "$fail"
			[ "$l" -gt "$worst_lost" ] || [ "$l" -lt 0 ] && worst_lost=$l
			if [ "$rate" != max ]; then
				paced_folded=$folded
				paced_rate=$(fmt %.0f "$(calc "$n / $secs")")
			fi
			if [ "$clients" = 1 ] && awk -v r="$(calc "$n / $secs")" -v a="$FLOOD_RATE" 'BEGIN { exit !(r >= a) }'; then
				fast_n=$((fast_n + 1))
				fast_folded=$((fast_folded + folded))
				local r
				r=$(fmt %.0f "$(calc "$n / $secs")")
				[ -z "$fast_rate" ] || [ "$r" -lt "$fast_rate" ] && fast_rate=$r
			fi
		done <"$raw/flood.tsv"
		echo
	} >"$out"

	if [ "$worst_lost" = 0 ]; then
		target "nothing lost in a flood (50,000 and 200,000 distinct statements, 1 and 4 clients)" "0 lost in every flood" met "default store size; see part 5"
	else
		target "nothing lost in a flood (50,000 and 200,000 distinct statements, 1 and 4 clients)" "$worst_lost lost (worst)" MISSED "default store size; see part 5"
	fi
	if [ "$fast_n" -gt 0 ]; then
		# a client as fast as the target asks, paced or not, answers it
		if [ "$fast_folded" = 0 ]; then
			target "nothing folded for one client at $FLOOD_RATE distinct statements/s" "0 folded at $fast_rate statements/s or more" met "$fast_n one-client flood(s) reached $FLOOD_RATE/s; the paced one reached $paced_rate/s ($paced_folded folded); see part 5"
		else
			target "nothing folded for one client at $FLOOD_RATE distinct statements/s" "$fast_folded folded at $fast_rate statements/s or more" MISSED "$fast_n one-client flood(s) reached $FLOOD_RATE/s; see part 5"
		fi
	elif awk -v r="$paced_rate" -v a="$FLOOD_RATE" 'BEGIN { exit !(r < 0.9 * a) }'; then
		target "nothing folded for one client at $FLOOD_RATE distinct statements/s" "$paced_folded folded at $paced_rate statements/s" "NOT MEASURED" "the client reached $paced_rate statements/s, not $FLOOD_RATE; see part 5"
	elif [ "$paced_folded" = 0 ]; then
		target "nothing folded for one client at $FLOOD_RATE distinct statements/s" "0 folded ($paced_rate statements/s reached)" met "$FLOOD_PACED_N statements; see part 5"
	else
		target "nothing folded for one client at $FLOOD_RATE distinct statements/s" "$paced_folded folded ($paced_rate statements/s reached)" MISSED "$FLOOD_PACED_N statements; see part 5"
	fi
}
