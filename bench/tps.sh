# bench/tps.sh: part 3, pgbench throughput, interleaved.
#
# One cluster (pgbench tables at scale $TPS_SCALE, small enough to stay in
# shared_buffers) restarted for each configuration in turn: no extension,
# pg_stat_statements, this fork; then again, for $TPS_ROUNDS rounds, the
# order rotating from round to round so that no configuration always runs
# first.  Each start prewarms the tables, then runs select-only (-M
# prepared) and tpcb-like for $TPS_SECONDS seconds each.  Ratios are taken
# within a round, and the median over the rounds is reported.

TPS_ROUNDS=${BENCH_TPS_ROUNDS:-7}
TPS_SECONDS=${BENCH_TPS_SECONDS:-8}
TPS_SCALE=${BENCH_TPS_SCALE:-5}
TPS_CLIENTS=${BENCH_TPS_CLIENTS:-2}
TPS_CONFIGS="none pgss pgsm"

# tps_run CONFIG ROUND: one start, two pgbench runs
tps_run() {
	local c=$1 r=$2 raw="$OUT/raw/tps"
	cluster_conf tps "$(config_settings "$c")" "synchronous_commit = off"
	cluster_start tps
	q tps "SELECT pg_prewarm(c) FROM unnest(ARRAY['pgbench_accounts', 'pgbench_accounts_pkey',
	        'pgbench_branches', 'pgbench_tellers', 'pgbench_history']::regclass[]) c" >/dev/null
	# shellcheck disable=SC2046
	as_pg pgbench -n -S -M prepared -c "$TPS_CLIENTS" -j "$TPS_CLIENTS" -T "$TPS_SECONDS" \
		$(conn tps) postgres >"$raw/select-$c-$r.log" 2>&1 || true
	# shellcheck disable=SC2046
	as_pg pgbench -n -c "$TPS_CLIENTS" -j "$TPS_CLIENTS" -T "$TPS_SECONDS" \
		$(conn tps) postgres >"$raw/tpcb-$c-$r.log" 2>&1 || true
	if [ "$c" != none ]; then
		q tps "SELECT count(*) FROM pg_stat_monitor_info" >/dev/null 2>&1 || true
	fi
	cluster_stop tps
}

tps_of() {
	awk '/^tps = / { print $3; exit }' "$OUT/raw/tps/$1-$2-$3.log" 2>/dev/null
}

part_tps() {
	local raw="$OUT/raw/tps" out="$OUT/3-tps.md"
	mkdir -p "$raw"
	say "part 3: throughput ($TPS_ROUNDS rounds of $TPS_CONFIGS, ${TPS_SECONDS}s per run)"

	cluster_init tps
	cluster_conf tps "synchronous_commit = off"
	cluster_start tps
	# shellcheck disable=SC2046
	as_pg pgbench -i -q -s "$TPS_SCALE" $(conn tps) postgres >"$raw/init.log" 2>&1
	q tps "CREATE EXTENSION pg_prewarm; CREATE EXTENSION pg_stat_statements;
	       CREATE EXTENSION pg_stat_monitor"
	q tps "VACUUM ANALYZE"
	q tps "CHECKPOINT"
	cluster_stop tps

	# the cost of the system calls a collector may make for each statement
	cc -O2 -o "$WORK/syscost" "$bench/syscost.c" && "$WORK/syscost" >"$raw/syscost" ||
		: >"$raw/syscost"

	local configs=($TPS_CONFIGS) k=${#configs[@]}
	for ((r = 1; r <= TPS_ROUNDS; r++)); do
		for ((i = 0; i < k; i++)); do
			tps_run "${configs[$(((i + r - 1) % k))]}" "$r"
		done
	done

	# per round: tps of each configuration and the ratios
	for w in select tpcb; do
		for ((r = 1; r <= TPS_ROUNDS; r++)); do
			echo "$r $(tps_of "$w" none "$r") $(tps_of "$w" pgss "$r") $(tps_of "$w" pgsm "$r")"
		done >"$raw/$w.rounds"
	done

	local sel_ratio=""
	{
		echo "## 3. Throughput"
		echo
		echo "pgbench at scale $TPS_SCALE (in shared_buffers, prewarmed), $TPS_CLIENTS clients and $TPS_CLIENTS threads, ${TPS_SECONDS} s per run, \`synchronous_commit = off\` so that the runs measure CPU rather than the disk, over a Unix socket."
		echo "Workloads: **select-only** = \`pgbench -S -M prepared\`; **tpcb-like** = \`pgbench\` (simple protocol)."
		echo "Each round restarts the server once per configuration (no extension; pg_stat_statements at defaults; this fork at defaults, its worker running), the order rotating from round to round; ratios are taken within a round, and the median of the $TPS_ROUNDS rounds is shown."
		echo "pgbench and the server share the machine's $(nproc) cores."
		echo
		echo "| workload | median tps: none | pg_stat_statements | this fork | this fork ÷ none (lowest–highest round) | this fork ÷ pg_stat_statements | pg_stat_statements ÷ none |"
		echo "|---|---|---|---|---|---|---|"
		for w in select tpcb; do
			local f="$raw/$w.rounds" m_none m_pgss m_pgsm r1 r2 r3
			m_none=$(awk '{ print $2 }' "$f" | median)
			m_pgss=$(awk '{ print $3 }' "$f" | median)
			m_pgsm=$(awk '{ print $4 }' "$f" | median)
			r1=$(awk '$2 > 0 && $4 > 0 { print $4 / $2 }' "$f" | median)
			r2=$(awk '$3 > 0 && $4 > 0 { print $4 / $3 }' "$f" | median)
			r3=$(awk '$2 > 0 && $3 > 0 { print $3 / $2 }' "$f" | median)
			[ "$w" = select ] && sel_ratio=$r1
			range() { awk "$1" "$f" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f–%.1f%%", lo * 100, hi * 100 }'; }
			printf '| %s | %.0f | %.0f | %.0f | **%.1f%%** (%s) | %.1f%% (%s) | %.1f%% (%s) |\n' \
				"$([ "$w" = select ] && echo select-only || echo tpcb-like)" \
				"$m_none" "$m_pgss" "$m_pgsm" \
				"$(calc "$r1 * 100")" "$(range '$2 > 0 && $4 > 0 { print $4 / $2 }')" \
				"$(calc "$r2 * 100")" "$(range '$3 > 0 && $4 > 0 { print $4 / $3 }')" \
				"$(calc "$r3 * 100")" "$(range '$2 > 0 && $3 > 0 { print $3 / $2 }')"
		done
		echo
		# how far apart the rounds are, for select-only without extension
		local spread
		spread=$(awk '$2 > 0 { print $2 }' "$raw/select.rounds" | sort -g |
			awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (lo > 0) printf "%.0f", (hi / lo - 1) * 100; else print 0 }')
		echo "$spread" >"$raw/spread"
		if [ "$spread" -gt 10 ]; then
			echo "**Noisy run:** without extension, select-only went from the slowest to the fastest round by $spread%; the machine was not quiet (see the load above), and ratios this scattered cannot settle a 2% target."
			echo
		fi
		if [ -s "$raw/syscost" ]; then
			local ru m_none_sel
			ru=$(awk -F'\t' '$1 ~ /^getrusage/ { print $2 }' "$raw/syscost")
			m_none_sel=$(awk '{ print $2 }' "$raw/select.rounds" | median)
			echo "System calls on this machine (\`bench/syscost.c\`, ns per call): $(awk -F'\t' '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }' "$raw/syscost")."
			echo "This fork calls \`getrusage\` twice per statement (for \`cpu_user_time\` and \`cpu_sys_time\`), pg_stat_statements never: $(fmt %.2f "$(calc "2 * $ru / 1000")") µs per statement, $(fmt %.1f "$(calc "2 * $ru / (1e9 * $(nproc) / $m_none_sel) * 100")")% of the CPU time of one select-only transaction at the median rate without extension ($(nproc) cores ÷ tps, pgbench included)."
			echo
		fi
		echo "Every round (tps: none / pg_stat_statements / this fork):"
		echo
		echo "| round | select-only | tpcb-like |"
		echo "|---|---|---|"
		for ((r = 1; r <= TPS_ROUNDS; r++)); do
			printf '| %d | %s | %s |\n' "$r" \
				"$(awk -v r="$r" '$1 == r { printf "%.0f / %.0f / %.0f", $2, $3, $4 }' "$raw/select.rounds")" \
				"$(awk -v r="$r" '$1 == r { printf "%.0f / %.0f / %.0f", $2, $3, $4 }' "$raw/tpcb.rounds")"
		done
		echo
	} >"$out"

	if [ -n "$sel_ratio" ] && [ "$sel_ratio" != n/a ]; then
		local pct
		pct=$(fmt %.1f "$(calc "$sel_ratio * 100")")
		if awk -v r="$sel_ratio" 'BEGIN { exit !(r >= 0.98) }'; then
			target "select-only throughput ≥ 98% of no extension" "$pct%" met "median of $TPS_ROUNDS rounds$([ "$(cat "$raw/spread")" -gt 10 ] && echo "; noisy run, rounds $(cat "$raw/spread")% apart")"
		else
			target "select-only throughput ≥ 98% of no extension" "$pct%" MISSED "median of $TPS_ROUNDS rounds$([ "$(cat "$raw/spread")" -gt 10 ] && echo "; noisy run, rounds $(cat "$raw/spread")% apart"); see part 3"
		fi
	fi
}
