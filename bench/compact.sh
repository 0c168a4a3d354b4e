# bench/compact.sh: part 7, history compaction.
#
# One day of history for 1,000 statements active in every one-minute
# bucket (1,440,000 rows, made in SQL with counters like those of a
# read-mostly workload: small counts, irregular times, zeros for what a
# SELECT does not use) is written into pg_stat_monitor_entries, then
# compacted with pg_stat_monitor_compact().  Measured: bytes on disk per
# statement-bucket (tables, TOAST and indexes; texts apart) fresh and
# compacted, WAL bytes per row written and per row compacted, the time to
# compact the day, and two typical history queries before and after (one
# statement over the day; the top 10 statements of the day), median of 3.
# Then thirty days, fresh and compacted: the day copied to the 29 days
# before it (history_copy_fresh before compaction, history_copy_compacted
# after), their size and one statement over them.  Thirty fresh days take
# about 30 times the day on disk (30 GiB at the defaults); with less room
# than that and 8 GB more free, or BENCH_COMPACT_FRESH30=0, they are not
# written and their figures are the day's multiplied by 30.
# Export is off, so that the worker neither writes nor compacts meanwhile.

COMPACT_STATEMENTS=${BENCH_COMPACT_STATEMENTS:-1000}
COMPACT_BUCKETS=${BENCH_COMPACT_BUCKETS:-1440}
COMPACT_FRESH30=${BENCH_COMPACT_FRESH30:-1}

# compact_time NAME SQL: median of 3 runs, in ms (psql's \timing)
compact_time() {
	local name=$1 sql=$2 f="$WORK/cmp/timing.sql"
	{
		echo "\\timing on"
		for i in 1 2 3; do echo "$sql;"; done
	} >"$f"
	chmod a+r "$f"
	# shellcheck disable=SC2046
	as_pg env PGOPTIONS="-c pg_stat_monitor.pgsm_track=none" \
		psql -X -q -At -v ON_ERROR_STOP=1 $(conn "$name") -d postgres -f "$f" |
		awk '/^Time:/ { print $2 }' | median
}

# compact_sizes NAME: rows|bytes of entries, rows|bytes of compact, compact
# rows, then rows|bytes of the hourly and of the daily rollups
compact_sizes() {
	qw "$1" "SELECT (SELECT count(*) FROM pg_stat_monitor_entries),
	                (SELECT coalesce(sum(pg_total_relation_size(partition)), 0) FROM pgsm_partitions('pg_stat_monitor_entries')),
	                (SELECT coalesce(sum(compact_rows), 0) FROM pg_stat_monitor_compact),
	                (SELECT coalesce(sum(pg_total_relation_size(partition)), 0) FROM pgsm_partitions('pg_stat_monitor_compact')),
	                (SELECT count(*) FROM pg_stat_monitor_compact),
	                (SELECT count(*) FROM pg_stat_monitor_rollup_hour),
	                (SELECT coalesce(sum(pg_total_relation_size(partition)), 0) FROM pgsm_partitions('pg_stat_monitor_rollup_hour')),
	                (SELECT count(*) FROM pg_stat_monitor_rollup_day),
	                (SELECT coalesce(sum(pg_total_relation_size(partition)), 0) FROM pgsm_partitions('pg_stat_monitor_rollup_day'))"
}

# history_day NAME DAY STATEMENTS BUCKETS: BUCKETS one-minute buckets of
# history from DAY on, each with STATEMENTS statements (query ids s * 104729,
# texts s), written into pg_stat_monitor_entries with counters like those of
# a read-mostly workload.  Part 8 (bench/reports.sh) uses it too.
history_day() {
	local name=$1 day=$2 statements=$3 buckets=$4
	qw "$name" "INSERT INTO pg_stat_monitor_entries (bucket, bucket_start_time, userid, username, dbid, datname,
	            client_ip, pgsm_query_id, queryid, toplevel, top_queryid, query_text_id, comments, planid,
	            plan_text_id, top_query_text_id, application_name, relations, cmd_type, elevel, sqlcode,
	            message, calls, total_exec_time, min_exec_time, max_exec_time, sum_var_exec_time, rows,
	            shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written,
	            local_blks_hit, local_blks_read, local_blks_dirtied, local_blks_written,
	            temp_blks_read, temp_blks_written, blk_read_time, blk_write_time,
	            temp_blk_read_time, temp_blk_write_time, resp_calls, cpu_user_time, cpu_sys_time,
	            wal_records, wal_fpi, wal_bytes, plans, total_plan_time, min_plan_time, max_plan_time,
	            sum_var_plan_time, jit_functions, jit_generation_time, jit_inlining_count,
	            jit_inlining_time, jit_optimization_count, jit_optimization_time, jit_emission_count,
	            jit_emission_time, batch_id, exported_at, local_blk_read_time, local_blk_write_time,
	            jit_deform_count, jit_deform_time, stats_since, wal_buffers_full,
	            parallel_workers_to_launch, parallel_workers_launched)
	        SELECT extract(epoch FROM t)::int8 / 60, t, 10, 'app', 5, 'postgres', '10.0.0.1'::inet,
	               s * 7919, s * 104729, true, NULL, s, NULL, NULL, NULL, NULL, 'app', '{public.bench_t}',
	               1, 0, NULL, NULL, c, c * m, m * 0.6, m * 1.7, c * m * m * 0.05, c,
	               c * 4, (random() < 0.05)::int, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	               ARRAY[0, 0, c - c / 3, c / 3, 0, 0, 0, 0, 0, 0]::int8[], c * m * 0.7, c * m * 0.1,
	               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	               extract(epoch FROM t)::int8 / 60, t + interval '60 s' + random() * interval '50 ms',
	               0, 0, 0, 0, t + random() * interval '60 s', NULL, 0, 0
	        FROM generate_series('$day'::timestamptz, '$day'::timestamptz + ($buckets - 1) * interval '60 s',
	                             interval '60 s') t,
	             generate_series(1, $statements) s,
	             LATERAL (SELECT 1 + (random() * 20 + 0 * s)::int AS c,
	                             0.01 + random() * random() + 0 * s AS m
	                      OFFSET 0) v"
}

# history_copy_fresh NAME DAY K: the rows of DAY (the start of a day of
# fresh history) copied to the day K days before it, their bucket numbers,
# batches and times shifted by K days.
history_copy_fresh() {
	local name=$1 day=$2 k=$3
	qw $name "DO \$do\$
	DECLARE
	    cols text;
	    vals text;
	BEGIN
	    PERFORM pgsm_ensure_partition('pg_stat_monitor_entries', '$day'::timestamptz - $k * interval '1 day');
	    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
	           string_agg(CASE WHEN a.attname IN ('bucket', 'batch_id')
	                           THEN format('e.%I - %s', a.attname, $k * 1440)
	                           WHEN a.atttypid = 'timestamptz'::regtype
	                           THEN format('e.%I - interval ''%s days''', a.attname, $k)
	                           ELSE 'e.' || quote_ident(a.attname) END, ', ' ORDER BY a.attnum)
	    INTO cols, vals
	    FROM pg_attribute a
	    WHERE a.attrelid = 'pg_stat_monitor_entries'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
	    EXECUTE format('INSERT INTO pg_stat_monitor_entries (%s)
	                    SELECT %s FROM pg_stat_monitor_entries e
	                    WHERE e.bucket_start_time >= %L::timestamptz
	                      AND e.bucket_start_time < %L::timestamptz + interval ''1 day''',
	                   cols, vals, '$day', '$day');
	END
	\$do\$"
}

# history_copy_compacted NAME DAY K: the compact rows of DAY (the start of
# a day compacted already) and its hourly and daily rollups, copied to the
# day K days before it, their bucket numbers and times shifted by K days:
# compacting each day would give the same rows, and take far longer.
# Part 8 (bench/reports.sh) uses it too.
history_copy_compacted() {
	local name=$1 day=$2 k=$3
	qw $name "DO \$do\$
	DECLARE
	    cols text;
	    vals text;
	BEGIN
	    PERFORM pgsm_ensure_partition('pg_stat_monitor_compact', '$day'::timestamptz - $k * interval '1 day');
	    SELECT string_agg(quote_ident(x.name), ', '),
	           string_agg(CASE WHEN x.is_key THEN 'c.' || quote_ident(x.name)
	                           WHEN x.name IN ('bucket', 'batch_id')
	                           THEN format('ARRAY(SELECT v - %s FROM unnest(c.%I) WITH ORDINALITY u(v, i) ORDER BY i)',
	                                       $k * 1440, x.name)
	                           WHEN x.type = 'timestamp with time zone'
	                           THEN format('ARRAY(SELECT v - interval ''%s days'' FROM unnest(c.%I) WITH ORDINALITY u(v, i) ORDER BY i)',
	                                       $k, x.name)
	                           ELSE 'c.' || quote_ident(x.name) END, ', ')
	    INTO cols, vals
	    FROM pgsm_compact_columns() x;
	    EXECUTE format('INSERT INTO pg_stat_monitor_compact (compact_day, compact_first, compact_last, compact_rows, %s)
	                    SELECT c.compact_day - interval ''%s days'', c.compact_first - interval ''%s days'',
	                           c.compact_last - interval ''%s days'', c.compact_rows, %s
	                    FROM pg_stat_monitor_compact c
	                    WHERE c.compact_day = %L::timestamptz',
	                   cols, $k, $k, $k, vals, '$day');
	    -- and its rollups, as compaction would have made them
	    PERFORM pgsm_rollup_ensure('$day'::timestamptz - $k * interval '1 day',
	                               '$day'::timestamptz - ($k - 1) * interval '1 day' - interval '1 second');
	    SELECT string_agg(quote_ident(x.name), ', '),
	           string_agg(CASE WHEN x.type = 'timestamp with time zone'
	                           THEN format('%I - interval ''%s days''', x.name, $k)
	                           ELSE quote_ident(x.name) END, ', ')
	    INTO cols, vals
	    FROM pgsm_rollup_columns() x;
	    EXECUTE format('INSERT INTO pg_stat_monitor_rollup_hour (rollup_start, %s)
	                    SELECT rollup_start - interval ''%s days'', %s FROM pg_stat_monitor_rollup_hour
	                    WHERE rollup_start >= %L::timestamptz
	                      AND rollup_start < %L::timestamptz + interval ''1 day''',
	                   cols, $k, vals, '$day', '$day');
	    EXECUTE format('INSERT INTO pg_stat_monitor_rollup_day (rollup_start, %s)
	                    SELECT rollup_start - interval ''%s days'', %s FROM pg_stat_monitor_rollup_day
	                    WHERE rollup_start = %L::timestamptz',
	                   cols, $k, vals, '$day');
	END
	\$do\$"
}

part_compact() {
	local out="$OUT/7-compact.md" raw="$OUT/raw/compact"
	mkdir -p "$raw" "$WORK/cmp"
	chmod a+rx "$WORK/cmp"
	say "part 7: compaction ($COMPACT_STATEMENTS statements x $COMPACT_BUCKETS buckets)"
	[ -f "$WORK/build/test/sql/compact.sql" ] ||
		cannot_measure "compaction (pg_stat_monitor_compact) is not in this checkout"

	cluster_init cmp
	cluster_conf cmp "shared_preload_libraries = 'pg_stat_monitor'" \
		"pg_stat_monitor.pgsm_enable_table_export = off" \
		"pg_stat_monitor.pgsm_history_max_size = 0" \
		"pg_stat_monitor.pgsm_retention = '60d'" \
		"max_wal_size = '4GB'"
	cluster_start cmp
	q cmp "CREATE EXTENSION pg_stat_monitor"
	local day
	day=$(qw cmp "SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day'")
	qw cmp "SELECT pgsm_ensure_partition('pg_stat_monitor_entries', '$day')" >/dev/null
	qw cmp "SELECT pgsm_maintain_partitions()" >/dev/null
	qw cmp "SHOW default_toast_compression" >"$raw/toast"
	qw cmp "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)" >"$raw/lz4"
	qw cmp "INSERT INTO pg_stat_monitor_texts (text_id, text)
	        SELECT s, 'SELECT c' || s || ' FROM bench_t WHERE id = \$1' FROM generate_series(1, $COMPACT_STATEMENTS) s"

	local lsn0 lsn1 t0 t1
	lsn0=$(qw cmp "SELECT pg_current_wal_lsn()")
	t0=$(date +%s.%N)
	history_day cmp "$day" "$COMPACT_STATEMENTS" "$COMPACT_BUCKETS"
	t1=$(date +%s.%N)
	lsn1=$(qw cmp "SELECT pg_current_wal_lsn()")
	qw cmp "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')" >"$raw/wal-insert"
	calc "$t1 - $t0" >"$raw/insert-secs"
	qw cmp "VACUUM ANALYZE pg_stat_monitor_entries"
	compact_sizes cmp >"$raw/sizes-fresh"

	local q1 q2 mid=$(((COMPACT_STATEMENTS + 1) / 2))
	q1="SELECT sum(calls), sum(total_exec_time), max(max_exec_time), avg(mean_exec_time) FROM pg_stat_monitor_history WHERE queryid = $mid * 104729 AND bucket_start_time >= '$day' AND bucket_start_time < '$day'::timestamptz + interval '1 day'"
	q2="SELECT queryid, sum(total_exec_time) AS t FROM pg_stat_monitor_history WHERE bucket_start_time >= '$day' AND bucket_start_time < '$day'::timestamptz + interval '1 day' GROUP BY queryid ORDER BY t DESC LIMIT 10"
	# the same through the rollups: before compaction they read the detail
	local q3 q4
	q3="SELECT sum(calls), sum(total_exec_time), max(max_exec_time), avg(mean_exec_time) FROM pg_stat_monitor_rollups WHERE grain = 'hour' AND queryid = $mid * 104729 AND period_start >= '$day' AND period_start < '$day'::timestamptz + interval '1 day'"
	q4="SELECT queryid, sum(total_exec_time) AS t FROM pg_stat_monitor_rollups WHERE grain = 'day' AND period_start = '$day' GROUP BY queryid ORDER BY t DESC LIMIT 10"
	compact_time cmp "$q1" >"$raw/q1-fresh"
	compact_time cmp "$q2" >"$raw/q2-fresh"
	compact_time cmp "$q3" >"$raw/q3-fresh"
	compact_time cmp "$q4" >"$raw/q4-fresh"
	qw cmp "$q2" >"$raw/top-fresh"
	qw cmp "$q4" >"$raw/top-rollup-fresh"

	# one statement over thirty days (the day and the 29 before it)
	local q5
	q5="SELECT sum(calls), sum(total_exec_time), max(max_exec_time), avg(mean_exec_time) FROM pg_stat_monitor_history WHERE queryid = $mid * 104729 AND bucket_start_time >= '$day'::timestamptz - interval '29 days' AND bucket_start_time < '$day'::timestamptz + interval '1 day'"

	# thirty days fresh, when the disk has room: the day, and its copies to
	# the 29 before it; measured, then dropped
	local need free
	need=$(calc "$(cut -d'|' -f2 "$raw/sizes-fresh") * 29 + 8 * 1073741824")
	free=$(df -B1 --output=avail "$WORK" | tail -n 1)
	rm -f "$raw/sizes-fresh30"
	if [ "$COMPACT_FRESH30" = 1 ] && awk -v n="$need" -v f="$free" 'BEGIN { exit !(f > n) }'; then
		say "  the fresh day copied to the 29 days before it"
		local k t0 t1
		t0=$(date +%s.%N)
		for ((k = 1; k <= 29; k++)); do
			history_copy_fresh cmp "$day" $k
		done
		t1=$(date +%s.%N)
		calc "$t1 - $t0" >"$raw/copy30-secs"
		qw cmp "VACUUM ANALYZE pg_stat_monitor_entries"
		compact_sizes cmp >"$raw/sizes-fresh30"
		compact_time cmp "$q5" >"$raw/q5-fresh30"
		qw cmp "$q5" >"$raw/q5-fresh30-result"
		# back to the one day
		qw cmp "DO \$do\$
		DECLARE p regclass;
		BEGIN
		    FOR p IN SELECT x.partition FROM pgsm_partitions('pg_stat_monitor_entries') x
		             WHERE x.upper_bound <= '$day'::timestamptz LOOP
		        EXECUTE format('DROP TABLE %s', p);
		    END LOOP;
		END
		\$do\$"
		qw cmp "SELECT count(*) FROM pg_stat_monitor_entries" | grep -qx "$(cut -d'|' -f1 "$raw/sizes-fresh")" ||
			cannot_measure "thirty fresh days: their copies were not all dropped"
	else
		say "  thirty fresh days not written (BENCH_COMPACT_FRESH30=$COMPACT_FRESH30; $(bytes_h "$free") free, $(bytes_h "$need") needed)"
	fi

	lsn0=$(qw cmp "SELECT pg_current_wal_lsn()")
	t0=$(date +%s.%N)
	qw cmp "SELECT sum(entries), sum(compact_rows) FROM pg_stat_monitor_compact()" >"$raw/compacted"
	t1=$(date +%s.%N)
	lsn1=$(qw cmp "SELECT pg_current_wal_lsn()")
	qw cmp "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')" >"$raw/wal-compact"
	calc "$t1 - $t0" >"$raw/compact-secs"
	qw cmp "VACUUM ANALYZE"
	compact_sizes cmp >"$raw/sizes-compact"
	compact_time cmp "$q1" >"$raw/q1-compact"
	compact_time cmp "$q2" >"$raw/q2-compact"
	compact_time cmp "$q3" >"$raw/q3-compact"
	compact_time cmp "$q4" >"$raw/q4-compact"
	qw cmp "$q2" >"$raw/top-compact"
	qw cmp "$q4" >"$raw/top-rollup-compact"

	# thirty days compacted: the day, and its copies to the 29 before it
	say "  the compacted day copied to the 29 days before it"
	local k
	for ((k = 1; k <= 29; k++)); do
		history_copy_compacted cmp "$day" $k
	done
	qw cmp "VACUUM ANALYZE"
	compact_sizes cmp >"$raw/sizes-30d"
	compact_time cmp "$q5" >"$raw/q5-compact30"
	qw cmp "$q5" >"$raw/q5-result"
	qw cmp "$q1" >"$raw/q1-result"
	cluster_stop cmp
	compact_report
}

compact_report() {
	local raw="$OUT/raw/compact" out="$OUT/7-compact.md"
	local frows fbytes crows cbytes ncompact hrows hbytes drows dbytes x
	IFS='|' read -r frows fbytes x x x x x x x <"$raw/sizes-fresh"
	IFS='|' read -r x x crows cbytes ncompact hrows hbytes drows dbytes <"$raw/sizes-compact"
	local per_fresh per_compact
	per_fresh=$(calc "$fbytes / $frows")
	per_compact=$(calc "$cbytes / $crows")
	local crows30 cbytes30 n30 hrows30 hbytes30 drows30 dbytes30
	IFS='|' read -r x x crows30 cbytes30 n30 hrows30 hbytes30 drows30 dbytes30 <"$raw/sizes-30d"
	local same=no same_rollup=no same30=no fresh30=no same_fresh30=no
	local frows30 fbytes30 q5_fresh
	q5_fresh=$(calc "$(cat "$raw/q1-fresh") * 30")
	if [ -s "$raw/sizes-fresh30" ]; then
		fresh30=yes
		IFS='|' read -r frows30 fbytes30 x x x x x x x <"$raw/sizes-fresh30"
		q5_fresh=$(cat "$raw/q5-fresh30")
		cmp -s "$raw/q5-fresh30-result" "$raw/q5-result" && same_fresh30=yes
	fi
	# calls and time over 30 copies of the day: 30 times the day's
	awk -F'|' 'NR == FNR { c = $1; t = $2; next }
	           { exit !($1 == 30 * c && ($2 - 30 * t)^2 < (1e-9 * $2)^2 + 1e-12) }' \
		"$raw/q1-result" "$raw/q5-result" && same30=yes
	cmp -s "$raw/top-fresh" "$raw/top-compact" && same=yes
	cut -d"|" -f1 "$raw/top-fresh" >"$raw/top-ids"
	cut -d"|" -f1 "$raw/top-rollup-fresh" | cmp -s "$raw/top-ids" - &&
		cut -d"|" -f1 "$raw/top-rollup-compact" | cmp -s "$raw/top-ids" - && same_rollup=yes
	{
		echo "## 7. Compaction"
		echo
		echo "One day of history for $COMPACT_STATEMENTS statements active in every one of $COMPACT_BUCKETS one-minute buckets, written into \`pg_stat_monitor_entries\` by SQL (counters of a read-mostly workload: small counts, irregular times, zeros for what a SELECT does not use), then compacted by \`pg_stat_monitor_compact()\`. Sizes are \`pg_total_relation_size\` of every partition (tables, TOAST and indexes) after VACUUM; texts apart. TOAST compression: $(cat "$raw/toast") (lz4 available: $( [ "$(cat "$raw/lz4")" = 1 ] && echo yes || echo no); compact arrays use lz4 when it is). Queries: median of 3. The machine was shared with other work (load in the line above)."
		echo
		echo "| | rows (statement-buckets) | bytes on disk | per statement-bucket |"
		echo "|---|---|---|---|"
		printf '| fresh (pg_stat_monitor_entries) | %s | %s | **%.0f B** |\n' "$frows" "$(bytes_h "$fbytes")" "$per_fresh"
		printf '| compacted (pg_stat_monitor_compact, %s rows) | %s | %s | **%.1f B** |\n' "$ncompact" "$crows" "$(bytes_h "$cbytes")" "$per_compact"
		echo
		echo "Made by the same compaction, the rollups (plain rows, one per statement and hour or day):"
		echo
		echo "| | rows | bytes on disk | per row |"
		echo "|---|---|---|---|"
		printf '| hourly (pg_stat_monitor_rollup_hour) | %s | %s | %.0f B |\n' "$hrows" "$(bytes_h "$hbytes")" "$(calc "$hbytes / ($hrows + ($hrows == 0))")"
		printf '| daily (pg_stat_monitor_rollup_day) | %s | %s | %.0f B |\n' "$drows" "$(bytes_h "$dbytes")" "$(calc "$dbytes / ($drows + ($drows == 0))")"
		echo
		if [ $fresh30 = yes ]; then
			echo "Thirty days, measured both ways: before compaction, the fresh day's rows copied to the 29 days before it (\`history_copy_fresh\`, $(fmt %.0f "$(cat "$raw/copy30-secs")") s), then VACUUM ANALYZE, measured and dropped again; after it, the day's compact rows and rollups copied the same way (\`history_copy_compacted\`), bucket numbers and times shifted, then VACUUM ANALYZE."
		else
			echo "Thirty days compacted, measured: the day's compact rows and rollups copied to the 29 days before it, bucket numbers and times shifted (\`history_copy_compacted\`), then VACUUM ANALYZE. Thirty days fresh were not written (about $(fmt %.0f "$(calc "$fbytes * 30 / 1073741824")") GiB; \`BENCH_COMPACT_FRESH30=0\`, or not that much room on the disk): their figures are the day's multiplied by 30."
		fi
		echo
		echo "| 30 days | rows (statement-buckets) | bytes on disk | per statement-bucket |"
		echo "|---|---|---|---|"
		if [ $fresh30 = yes ]; then
			printf '| fresh (measured) | %s | %s | %.0f B |\n' "$frows30" "$(bytes_h "$fbytes30")" "$(calc "$fbytes30 / $frows30")"
		else
			printf '| fresh (the day x 30, not measured) | %s | %s | %.0f B |\n' "$(fmt %.0f "$(calc "$frows * 30")")" "$(bytes_h "$(fmt %.0f "$fbytes" | awk '{ printf "%.0f", $1 * 30 }')")" "$per_fresh"
		fi
		printf '| compacted (measured, %s rows) | %s | %s | **%.1f B** |\n' "$n30" "$crows30" "$(bytes_h "$cbytes30")" "$(calc "$cbytes30 / $crows30")"
		printf '| hourly rollups (measured) | %s | %s | %.0f B |\n' "$hrows30" "$(bytes_h "$hbytes30")" "$(calc "$hbytes30 / ($hrows30 + ($hrows30 == 0))")"
		printf '| daily rollups (measured) | %s | %s | %.0f B |\n' "$drows30" "$(bytes_h "$dbytes30")" "$(calc "$dbytes30 / ($drows30 + ($drows30 == 0))")"
		echo
		echo "| | figure |"
		echo "|---|---|"
		printf '| WAL per row written by INSERT ... SELECT (for reference; the exporter writes by COPY, part 4) | %.0f B |\n' "$(calc "$(cat "$raw/wal-insert") / $frows")"
		printf '| time to compact the day | %.1f s |\n' "$(cat "$raw/compact-secs")"
		printf '| WAL written by the compaction, per row compacted | %.0f B |\n' "$(calc "$(cat "$raw/wal-compact") / $frows")"
		printf '| one statement over the day, fresh / compacted | %.1f ms / %.1f ms |\n' "$(cat "$raw/q1-fresh")" "$(cat "$raw/q1-compact")"
		printf '| top 10 statements of the day, fresh / compacted | %.1f ms / %.1f ms |\n' "$(cat "$raw/q2-fresh")" "$(cat "$raw/q2-compact")"
		if [ $fresh30 = yes ]; then
			printf '| one statement over 30 days, fresh / compacted | %.1f ms / %.1f ms |\n' "$q5_fresh" "$(cat "$raw/q5-compact30")"
			echo "| one statement over 30 days: the same fresh and compacted | $same_fresh30 |"
		else
			printf '| one statement over 30 days, fresh (the day x 30, not measured) / compacted (measured) | %.0f ms / %.1f ms |\n' "$q5_fresh" "$(cat "$raw/q5-compact30")"
		fi
		echo "| one statement: 30 days compacted add up to 30 times the day | $same30 |"
		echo "| top 10 the same before and after | $same |"
		printf '| through pg_stat_monitor_rollups: one statement over the day by hour, detail / rollups | %.1f ms / %.1f ms |\n' "$(cat "$raw/q3-fresh")" "$(cat "$raw/q3-compact")"
		printf '| through pg_stat_monitor_rollups: top 10 statements of the day, detail / rollups | %.1f ms / %.1f ms |\n' "$(cat "$raw/q4-fresh")" "$(cat "$raw/q4-compact")"
		echo "| rollups' top 10 the same as history's, before and after | $same_rollup |"
		echo
	} >"$out"
	if awk -v b="$per_compact" 'BEGIN { exit !(b <= 100) }'; then
		target "≤ 100 B per statement-bucket compacted" "$(fmt %.1f "$per_compact") B (fresh $(fmt %.0f "$per_fresh") B)" met "part 7"
	else
		target "≤ 100 B per statement-bucket compacted" "$(fmt %.1f "$per_compact") B (fresh $(fmt %.0f "$per_fresh") B)" MISSED "part 7"
	fi
	if awk -v a="$(cat "$raw/q1-fresh")" -v b="$(cat "$raw/q1-compact")" -v c="$(cat "$raw/q2-fresh")" -v d="$(cat "$raw/q2-compact")" \
		-v e="$q5_fresh" -v f="$(cat "$raw/q5-compact30")" 'BEGIN { exit !(b <= a * 1.1 && d <= c * 1.1 && f <= e * 1.1) }'; then
		target "history queries no slower compacted" "see part 7" met "within 10%"
	else
		target "history queries no slower compacted" "see part 7" MISSED "slower than fresh by more than 10%; see part 7"
	fi
	if awk -v a="$(cat "$raw/q3-fresh")" -v b="$(cat "$raw/q3-compact")" -v c="$(cat "$raw/q4-fresh")" -v d="$(cat "$raw/q4-compact")" 'BEGIN { exit !(b <= a * 1.1 && d <= c * 1.1) }'; then
		target "typical queries through pg_stat_monitor_rollups no slower compacted" "see part 7" met "within 10%"
	else
		target "typical queries through pg_stat_monitor_rollups no slower compacted" "see part 7" MISSED "see part 7"
	fi
}
