# bench/statements.sh: part 6, pg_stat_monitor_statements.
#
# Reading pg_stat_monitor_statements (pg_stat_statements' columns, since the
# last reset) over one day and over a week of history.  History is made as
# in part 4: $STATEMENTS_ROWS exported rows per bucket, copied into every
# 60 s bucket, their query ids varied with the bucket so that the totals
# hold $STATEMENTS_KEYS statements.  The totals are built from that history
# by pgsm_add_totals(NULL, NULL), as an upgrade does (timed too).  Side by side,
# the same figures added up from all of history (pg_stat_monitor_history
# grouped by statement), which is what the view would cost without the
# totals.  Then the same reads with a batch pending (not yet added to the
# totals, as for a moment after each export): the last bucket's rows are
# marked as such, so that the view adds them from history.  Export is off
# meanwhile, so the worker does not write.

STATEMENTS_ROWS=${BENCH_STATEMENTS_ROWS:-20}
STATEMENTS_KEYS=${BENCH_STATEMENTS_KEYS:-1000}

statements_available() {
	grep -q pg_stat_monitor_statements "$WORK/build/sql/pg_stat_monitor--2.4.sql" 2>/dev/null
}

part_statements() {
	local raw="$OUT/raw/statements" name=stm
	mkdir -p "$raw"
	say "part 6: pg_stat_monitor_statements"
	statements_available ||
		cannot_measure "pg_stat_monitor_statements is not in this checkout"

	cluster_init $name
	cluster_conf $name "shared_preload_libraries = 'pg_stat_monitor'" \
		"pg_stat_monitor.pgsm_enable_table_export = off" \
		"pg_stat_monitor.pgsm_retention = '40d'"
	cluster_start $name
	q $name "CREATE EXTENSION pg_stat_monitor"
	q $name "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_monitor'" >"$raw/version"

	# rows to copy: made by exporting some distinct statements once
	q $name "$(wide_table_sql bench_t)"
	distinct_statements "$STATEMENTS_ROWS" bench_t >"$WORK/stm.sql"
	chmod a+r "$WORK/stm.sql"
	q $name "ALTER SYSTEM SET pg_stat_monitor.pgsm_enable_table_export = on"
	q $name "SELECT pg_reload_conf()" >/dev/null
	qf $name "$WORK/stm.sql" >/dev/null
	qw $name "SELECT pg_stat_monitor_flush()" >/dev/null
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(qw $name "SELECT count(DISTINCT queryid) >= $STATEMENTS_ROWS FROM pg_stat_monitor_entries" | tail -n 1)" = t ] && break
		sleep 0.2
	done
	set_export $name off
	qw $name "CREATE TABLE bench_template AS
	          SELECT DISTINCT ON (queryid) * FROM pg_stat_monitor_entries
	          WHERE elevel = 0 ORDER BY queryid LIMIT $STATEMENTS_ROWS"
	qw $name "TRUNCATE pg_stat_monitor_entries, pg_stat_monitor_totals"
	qw $name "SELECT pg_stat_monitor_reset()" >/dev/null

	# stm_history FROM TO: rows in every 60 s bucket from FROM to TO days ago
	stm_history() {
		qw $name "SELECT pgsm_ensure_partition('pg_stat_monitor_entries', now() - d * interval '1 day')
		          FROM generate_series($1, $2 + 1) d" >/dev/null
		qw $name "INSERT INTO pg_stat_monitor_entries
		          SELECT b.bucket, to_timestamp(b.bucket * 60), t.userid, t.username,
		                 t.dbid, t.datname, t.client_ip, t.pgsm_query_id,
		                 t.queryid + b.bucket % ($STATEMENTS_KEYS / $STATEMENTS_ROWS),
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
		          FROM generate_series(floor(extract(epoch FROM now() - interval '$2 days') / 60)::int8 + 1,
		                               floor(extract(epoch FROM now() - interval '$1 days') / 60)::int8) b(bucket),
		               bench_template t"
		qw $name "VACUUM ANALYZE pg_stat_monitor_entries"
	}
	# where batches wait for the totals (pg_stat_monitor_exports.totals_pending_since)
	local pend_on="SELECT 1" pend_off="SELECT 1"
	if [ "$(qw $name "SELECT count(*) FROM pg_attribute
	                  WHERE attrelid = 'pg_stat_monitor_exports'::regclass
	                    AND attname = 'totals_pending_since'" | tail -n 1)" = 1 ]; then
		pend_on="UPDATE pg_stat_monitor_exports SET totals_pending_since = (SELECT max(bucket_start_time) FROM pg_stat_monitor_entries) WHERE batch_id = (SELECT max(batch_id) FROM pg_stat_monitor_entries)"
		pend_off="UPDATE pg_stat_monitor_exports SET totals_pending_since = NULL"
	fi
	# stm_times LABEL: the totals rebuilt from history (timed), then seven
	# reads of the view and three of the same figures from all of history;
	# then seven reads of the view with the last bucket's batch pending
	stm_times() {
		local f="$raw/$1"
		# shellcheck disable=SC2046
		as_pg psql -X -q -At $(conn $name) -d postgres >"$f.log" 2>&1 <<EOF
SET pg_stat_monitor.pgsm_track = none;
TRUNCATE pg_stat_monitor_totals;
\timing on
SELECT 'tag_seed', pgsm_add_totals(NULL, NULL);
\timing off
VACUUM ANALYZE pg_stat_monitor_totals;
\timing on
$(repeat 7 "SELECT 'tag_view', count(*), sum(calls) FROM pg_stat_monitor_statements;")
$(repeat 3 "SELECT 'tag_scan', count(*), sum(calls) FROM (SELECT userid, dbid, toplevel, queryid, sum(calls) AS calls, sum(total_exec_time) FROM pg_stat_monitor_history WHERE elevel = 0 GROUP BY 1, 2, 3, 4) s;")
\timing off
$pend_on;
\timing on
$(repeat 7 "SELECT 'tag_pend', count(*), sum(calls) FROM pg_stat_monitor_statements;")
\timing off
$pend_off;
SELECT 'tag_hist_rows', count(*) FROM pg_stat_monitor_entries;
EOF
		# the timing follows each tagged result line
		awk '/^tag_seed/ { getline; if ($1 == "Time:") print $2 }' "$f.log" >"$f.seed"
		awk '/^tag_view/ { getline; if ($1 == "Time:") print $2 }' "$f.log" >"$f.view"
		awk '/^tag_scan/ { getline; if ($1 == "Time:") print $2 }' "$f.log" >"$f.scan"
		awk '/^tag_pend/ { getline; if ($1 == "Time:") print $2 }' "$f.log" >"$f.pend"
		awk -F'|' '/^tag_view/ { print $2 "|" $3; exit }' "$f.log" >"$f.view_rows"
		awk -F'|' '/^tag_scan/ { print $2 "|" $3; exit }' "$f.log" >"$f.scan_rows"
		awk -F'|' '/^tag_hist_rows/ { print $2 }' "$f.log" >"$f.hist_rows"
	}

	say "  history: one day"
	stm_history 0 1
	stm_times 1d
	say "  history: a week"
	stm_history 1 7
	stm_times 7d

	cluster_stop $name
	statements_report
}

statements_report() {
	local raw="$OUT/raw/statements" out="$OUT/6-statements.md" h
	local v1 v7 s1 s7
	{
		echo "## 6. pg_stat_monitor_statements"
		echo
		echo "Extension version $(cat "$raw/version" 2>/dev/null)."
		echo "History made of $STATEMENTS_ROWS exported rows copied into every 60 s bucket of the last day, then of the last week, their query ids varied with the bucket so that $STATEMENTS_KEYS statements are kept apart; the totals rebuilt from it with \`pgsm_add_totals(NULL, NULL)\` (as an upgrade does); then \`SELECT count(*), sum(calls) FROM pg_stat_monitor_statements\` seven times, and, side by side, the same figures added up from all of history (\`pg_stat_monitor_history\` grouped by user, database, level and query id: what the view would cost without its totals) three times."
		echo
		echo "| history | rows in pg_stat_monitor_entries | statements | totals rebuilt (ms) | view, median of 7 (ms) | all seven (ms) | with a batch pending, median of 7 (ms) | from all of history, median of 3 (ms) | history ÷ view |"
		echo "|---|---|---|---|---|---|---|---|---|"
		for h in 1d 7d; do
			local f="$raw/$h" v s p="–"
			v=$(median <"$f.view")
			s=$(median <"$f.scan")
			[ -s "$f.pend" ] && p=$(fmt %.2f "$(median <"$f.pend")")
			case $h in 1d) v1=$v s1=$s ;; *) v7=$v s7=$s ;; esac
			printf '| %s | %s | %s | %.1f | **%.2f** | %s | %s | %.1f | %.0f× |\n' \
				"$(case $h in 1d) echo "one day" ;; *) echo "a week" ;; esac)" \
				"$(tr -d ' ' <"$f.hist_rows")" "$(cut -d'|' -f1 <"$f.view_rows")" \
				"$(cat "$f.seed")" "$v" "$(tr '\n' ' ' <"$f.view" | sed 's/ $//')" \
				"$p" "$s" "$(calc "$s / $v")"
		done
		echo
		echo "The view reads the totals (one row per statement) and the store, and the rows of the batches not yet added to the totals (the worker adds them after their export, with the partitions' upkeep, every five minutes at a bucket's end): \"with a batch pending\" marks the last bucket's rows as such (\`pg_stat_monitor_exports.totals_pending_since\`), so that the view finds them in history (only that bucket's partition and block ranges are read)."
		echo
		echo "$v1 $v7 $s1 $s7" >"$raw/medians"
	} >"$out"

	local ratio
	ratio=$(calc "$v7 / $v1")
	if awk -v r="$ratio" 'BEGIN { exit !(r <= 1.5) }'; then
		target "pg_stat_monitor_statements does not grow with history" \
			"$(fmt %.2f "$v1") ms (1 day), $(fmt %.2f "$v7") ms (a week)" met \
			"a week ÷ one day = $(fmt %.2f "$ratio"); met means at most 1.5; from all of history: $(fmt %.0f "$s7") ms"
	else
		target "pg_stat_monitor_statements does not grow with history" \
			"$(fmt %.2f "$v1") ms (1 day), $(fmt %.2f "$v7") ms (a week)" MISSED \
			"a week ÷ one day = $(fmt %.2f "$ratio"); met means at most 1.5; see part 6"
	fi
}
