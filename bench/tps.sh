# bench/tps.sh: part 3, pgbench throughput, interleaved.
#
# Three copies of one cluster (pgbench tables at scale $TPS_SCALE, small
# enough to stay in shared_buffers) run side by side: one without any
# extension, one with pg_stat_statements, one with this fork, each at its
# defaults.  All three are started and prewarmed first; then short pgbench
# runs go to them in turn (none, pg_stat_statements, this fork, and again),
# the order rotating from round to round, for $TPS_ROUNDS rounds per
# workload.  Only one server is busy at a time.  Ratios are taken within a
# round, and the median over the rounds is reported with its range.

TPS_ROUNDS=${BENCH_TPS_ROUNDS:-15}
TPS_SECONDS=${BENCH_TPS_SECONDS:-5}
TPS_SCALE=${BENCH_TPS_SCALE:-5}
TPS_CLIENTS=${BENCH_TPS_CLIENTS:-2}
TPS_CONFIGS="none pgss pgsm"

tps_of() {
	awk '/^tps = / { print $3; exit }' "$OUT/raw/tps/$1-$2-$3.log" 2>/dev/null
}

# tps_round WORKLOAD ROUND: one pgbench run on each server, in turn
tps_round() {
	local w=$1 r=$2 raw="$OUT/raw/tps"
	local configs=($TPS_CONFIGS) k=${#configs[@]} c opts
	case $w in
	select) opts="-S -M prepared" ;;
	tpcb) opts="" ;;
	esac
	for ((i = 0; i < k; i++)); do
		c=${configs[$(((i + r - 1) % k))]}
		# shellcheck disable=SC2046,SC2086
		as_pg pgbench -n $opts -c "$TPS_CLIENTS" -j "$TPS_CLIENTS" -T "$TPS_SECONDS" \
			$(conn "tps_$c") postgres >"$raw/$w-$c-$r.log" 2>&1 || true
	done
}

part_tps() {
	local raw="$OUT/raw/tps" out="$OUT/3-tps.md"
	mkdir -p "$raw"
	say "part 3: throughput ($TPS_ROUNDS rounds of $TPS_CONFIGS per workload, ${TPS_SECONDS}s per run)"

	cluster_init tps_none
	cluster_conf tps_none "synchronous_commit = off"
	cluster_start tps_none
	# shellcheck disable=SC2046
	as_pg pgbench -i -q -s "$TPS_SCALE" $(conn tps_none) postgres >"$raw/init.log" 2>&1
	q tps_none "CREATE EXTENSION pg_prewarm; CREATE EXTENSION pg_stat_statements;
	       CREATE EXTENSION pg_stat_monitor"
	q tps_none "VACUUM ANALYZE"
	q tps_none "CHECKPOINT"
	cluster_stop tps_none
	for c in $TPS_CONFIGS; do
		[ "$c" = none ] || cluster_clone tps_none "tps_$c"
	done
	for c in $TPS_CONFIGS; do
		cluster_conf "tps_$c" "$(config_settings "$c")" "synchronous_commit = off"
		cluster_start "tps_$c"
		q "tps_$c" "SELECT pg_prewarm(c) FROM unnest(ARRAY['pgbench_accounts', 'pgbench_accounts_pkey',
		        'pgbench_branches', 'pgbench_tellers', 'pgbench_history']::regclass[]) c" >/dev/null
	done

	# the cost of the system calls a collector may make for each statement
	cc -O2 -o "$WORK/syscost" "$bench/syscost.c" && "$WORK/syscost" >"$raw/syscost" ||
		: >"$raw/syscost"
	# and how often the figure it reads moves on
	"$WORK/syscost" steps >"$raw/rusage-steps" 2>/dev/null || : >"$raw/rusage-steps"

	for w in select tpcb; do
		for ((r = 1; r <= TPS_ROUNDS; r++)); do
			tps_round "$w" "$r"
		done
	done
	for c in $TPS_CONFIGS; do
		cluster_stop "tps_$c"
	done

	# per round: tps of each configuration
	for w in select tpcb; do
		for ((r = 1; r <= TPS_ROUNDS; r++)); do
			echo "$r $(tps_of "$w" none "$r") $(tps_of "$w" pgss "$r") $(tps_of "$w" pgsm "$r")"
		done >"$raw/$w.rounds"
	done

	local sel_ratio="" q1 q3 wide
	# the middle half of the rounds' select-only ratios to no extension
	read -r q1 q3 < <(awk '$2 > 0 && $4 > 0 { print $4 / $2 * 100 }' "$raw/select.rounds" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print 0, 0; else printf "%.1f %.1f\n", v[int((NR + 3) / 4)], v[int((3 * NR + 3) / 4)] }')
	wide=$(awk -v a="$q1" -v b="$q3" 'BEGIN { print (b - a > 4) ? 1 : 0 }')
	{
		echo "## 3. Throughput"
		echo
		echo "pgbench at scale $TPS_SCALE (in shared_buffers, prewarmed), $TPS_CLIENTS clients and $TPS_CLIENTS threads, ${TPS_SECONDS} s per run, \`synchronous_commit = off\` so that the runs measure CPU rather than the disk, over a Unix socket."
		echo "Workloads: **select-only** = \`pgbench -S -M prepared\`; **tpcb-like** = \`pgbench\` (simple protocol)."
		echo "Three copies of one cluster run side by side — no extension; pg_stat_statements at its defaults; this fork at its defaults, its worker running — and the runs go to them in turn, one at a time, the order rotating from round to round."
		echo "Ratios are taken within a round; the median of the $TPS_ROUNDS rounds is shown, with the lowest and highest round."
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
			range() { awk "$1" "$f" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f–%.1f%%", v[1] * 100, v[NR] * 100 }'; }
			printf '| %s | %.0f | %.0f | %.0f | **%.1f%%** (%s) | %.1f%% (%s) | %.1f%% (%s) |\n' \
				"$([ "$w" = select ] && echo select-only || echo tpcb-like)" \
				"$m_none" "$m_pgss" "$m_pgsm" \
				"$(calc "$r1 * 100")" "$(range '$2 > 0 && $4 > 0 { print $4 / $2 }')" \
				"$(calc "$r2 * 100")" "$(range '$3 > 0 && $4 > 0 { print $4 / $3 }')" \
				"$(calc "$r3 * 100")" "$(range '$2 > 0 && $3 > 0 { print $3 / $2 }')"
		done
		echo
		echo "Select-only, this fork ÷ none: the middle half of the rounds lies between $q1% and $q3%."
		if [ "$wide" = 1 ]; then
			echo "**Noisy run:** that is more than 4 points wide, too scattered to settle a 2% target; more rounds (\`BENCH_TPS_ROUNDS\`) or a quieter machine would."
		fi
		echo
		if [ -s "$raw/syscost" ]; then
			local ru m_none_sel
			# the call the collector makes: the thread's figures where there are
			ru=$(awk -F'\t' '$1 ~ /^getrusage/ { v = $2 } END { print v }' "$raw/syscost")
			m_none_sel=$(awk '{ print $2 }' "$raw/select.rounds" | median)
			echo "System calls on this machine (\`bench/syscost.c\`, ns per call): $(awk -F'\t' '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }' "$raw/syscost")."
			local m_pgsm_sel tx_us
			m_pgsm_sel=$(awk '{ print $4 }' "$raw/select.rounds" | median)
			tx_us=$(calc "1e6 * $TPS_CLIENTS / $m_pgsm_sel")
			echo "One \`getrusage\` costs $(fmt %.2f "$(calc "$ru / 1000")") µs, $(fmt %.1f "$(calc "$ru / (1e9 * $(nproc) / $m_none_sel) * 100")")% of the CPU time of one select-only transaction at the median rate without extension ($(nproc) cores ÷ tps, pgbench included); pg_stat_statements makes none."
			if [ -s "$raw/rusage-steps" ]; then
				local calls changes largest
				read -r calls changes largest <"$raw/rusage-steps"
				echo "Calling it in a loop for 2 s (\`syscost steps\`), a thread saw its CPU time (user + system) move on $changes times in $calls calls, by at most $largest µs at once: the kernel moves it on at its clock ticks and when the thread is switched out, not at every call."
			fi
			echo "This fork reads CPU time (for \`cpu_user_time\` and \`cpu_sys_time\`) at the end of a top-level statement only when \`pgsm_cpu_time_interval\` (1 ms, its default) has passed since the backend's last reading (see docs/collector.md, *CPU time*): at its median select-only rate each of the $TPS_CLIENTS backends ran a transaction every $(fmt %.0f "$tx_us") µs, so it read about once in $(fmt %.0f "$(calc "($tx_us >= 1000) ? 1 : 1000 / $tx_us")") transactions."
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
		local pct note="median of $TPS_ROUNDS rounds; middle half $q1–$q3%"
		pct=$(fmt %.1f "$(calc "$sel_ratio * 100")")
		[ "$wide" = 1 ] && note="$note, too scattered to settle 2%"
		if awk -v r="$sel_ratio" 'BEGIN { exit !(r >= 0.98) }'; then
			target "select-only throughput ≥ 98% of no extension" "$pct%" met "$note"
		else
			target "select-only throughput ≥ 98% of no extension" "$pct%" MISSED "$note; see part 3"
		fi
	fi
}
