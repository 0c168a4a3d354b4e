# bench/instr.sh: part 2, instructions per statement under callgrind.
#
# For each configuration and statement shape, "postgres --single" runs N and
# then 10*N statements of that shape read from stdin, under
#   valgrind --tool=callgrind
# each time on a fresh copy of the same data directory.  The difference of
# the two instruction totals, divided by 9*N, is the cost of one statement
# with start-up and shut-down taken out.  Instruction counts do not depend
# on the machine's load, so the runs go two at a time.

INSTR_N=${BENCH_INSTR_N:-500}
INSTR_SHAPES="select update join utility error"
INSTR_CONFIGS="none pgss pgsm pgsm_all"

instr_shape_label() {
	case $1 in
	select) echo "constant SELECT: \`SELECT 1\`" ;;
	update) echo "pgbench-style UPDATE: \`UPDATE pgbench_accounts SET abalance = abalance + \$1 WHERE aid = \$2\`" ;;
	join) echo "join: \`SELECT a.aid, a.abalance, b.bbalance FROM pgbench_accounts a JOIN pgbench_branches b USING (bid) WHERE a.aid = \$1\`" ;;
	utility) echo "utility: \`SET work_mem = '4MB'\`" ;;
	error) echo "error (unknown table, fails in parse analysis): \`SELECT * FROM bench_missing_table\`" ;;
	esac
}

# instr_statements SHAPE COUNT: COUNT statements of SHAPE, one a line.
# Literals vary (and are normalized away); the sequence is the same every run.
instr_statements() {
	awk -v shape="$1" -v n="$2" 'BEGIN {
		for (i = 0; i < n; i++) {
			aid = (i * 7919) % 100000 + 1; d = i % 10000 - 5000
			if (shape == "select") print "SELECT 1;"
			else if (shape == "update") printf "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %d;\n", d, aid
			else if (shape == "join") printf "SELECT a.aid, a.abalance, b.bbalance FROM pgbench_accounts a JOIN pgbench_branches b USING (bid) WHERE a.aid = %d;\n", aid
			else if (shape == "utility") print "SET work_mem = '\''4MB'\'';"
			else if (shape == "error") print "SELECT * FROM bench_missing_table;"
		}
	}'
}

# instr_one CONFIG SHAPE COUNT: one callgrind run; prints its total.
instr_one() {
	local c=$1 s=$2 n=$3 raw="$OUT/raw/instr"
	local dir="$WORK/cg/run-$c-$s-$n"
	cp -a "$WORK/cg/data" "$dir"
	config_settings "$c" >"$dir/bench.conf"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
		postgres --single -D "$dir" postgres \
		<"$WORK/cg/$s-$n.sql" >/dev/null 2>"$dir/stderr" || true
	local total
	total=$(awk '$1 == "totals:" { print $2 }' "$dir/callgrind.out" 2>/dev/null)
	if [ -z "$total" ]; then
		cp "$dir/stderr" "$raw/$c-$s-$n.stderr"
		total=failed
	fi
	echo "$total" >"$raw/$c-$s-$n.total"
	tail -n 3 "$dir/stderr" >"$raw/$c-$s-$n.tail"
	# where this fork's instructions go, for the table of functions
	[ "$c" = pgsm ] && [ -f "$dir/callgrind.out" ] && cp "$dir/callgrind.out" "$raw/$c-$s-$n.callgrind"
	rm -rf "$dir"
}

# instr_functions FILE_N FILE_10N N: self instructions per statement of each
# function of pg_stat_monitor.so, largest first ("name count" lines).
instr_functions() {
	local fa fb
	fa=$(mktemp) fb=$(mktemp)
	for f in "$1" "$2"; do
		callgrind_annotate --threshold=100 "$f" 2>/dev/null |
			awk '/pg_stat_monitor\.so\]/ {
				n = $1; gsub(/,/, "", n)
				fn = $0; sub(/ \[.*$/, "", fn); sub(/^.*:/, "", fn)
				print fn, n }' | sort >"$([ "$f" = "$1" ] && echo "$fa" || echo "$fb")"
	done
	join -a 2 -e 0 -o 0,1.2,2.2 "$fa" "$fb" |
		awk -v n="$3" '{ printf "%s %.1f\n", $1, ($3 - $2) / (9 * n) }' | sort -k2 -g -r
	rm -f "$fa" "$fb"
}

part_instr() {
	local raw="$OUT/raw/instr" out="$OUT/2-instr.md" n=$INSTR_N
	mkdir -p "$raw"
	say "part 2: instructions per statement (N = $n; $INSTR_CONFIGS)"

	# the data: pgbench's tables at scale 1, made once with the server up
	cluster_init cg
	cluster_start cg
	# shellcheck disable=SC2046
	as_pg pgbench -i -q -s 1 $(conn cg) postgres >"$raw/pgbench-init.log" 2>&1
	q cg "VACUUM ANALYZE"
	q cg "CHECKPOINT"
	cluster_stop cg
	chown "$RUNNER" "$WORK/cg"
	for s in $INSTR_SHAPES; do
		instr_statements "$s" "$n" >"$WORK/cg/$s-$n.sql"
		instr_statements "$s" $((10 * n)) >"$WORK/cg/$s-$((10 * n)).sql"
	done

	# two runs at a time
	local jobs=0 max
	max=$(nproc)
	for c in $INSTR_CONFIGS; do
		for s in $INSTR_SHAPES; do
			for count in "$n" $((10 * n)); do
				instr_one "$c" "$s" "$count" &
				jobs=$((jobs + 1))
				if [ "$jobs" -ge "$max" ]; then
					wait -n || true
					jobs=$((jobs - 1))
				fi
			done
		done
	done
	wait || true
	local bad
	bad=$(grep -l '^failed$' "$raw"/*.total 2>/dev/null | head -n 3 | xargs -r -n1 basename | tr '\n' ' ')
	[ -z "$bad" ] || cannot_measure "callgrind runs failed: $bad(their stderr is in $raw)"

	# per statement: (total(10N) - total(N)) / 9N
	per() {
		local a b
		a=$(cat "$raw/$1-$2-$n.total")
		b=$(cat "$raw/$1-$2-$((10 * n)).total")
		case "$a$b" in *failed*) echo failed; return ;; esac
		calc "($b - $a) / (9 * $n)"
	}
	for c in $INSTR_CONFIGS; do
		for s in $INSTR_SHAPES; do
			echo "$c $s $(per "$c" "$s")"
		done
	done >"$raw/per-statement"

	local worst_ok=1 missed=""
	{
		echo "## 2. Instructions per statement"
		echo
		echo "\`valgrind --tool=callgrind\` on \`postgres --single\` reading N = $n and then $((10 * n)) statements of one shape from stdin, each run on a fresh copy of one data directory (pgbench tables at scale 1);"
		echo "instructions per statement = (total for $((10 * n)) − total for $n) / $((9 * n)), so start-up and shut-down cancel out."
		echo "Callgrind counts user-space instructions only: the kernel's share of system calls (such as \`getrusage\`) is not in these figures, but is in part 3's throughput."
		echo "Background workers do not run in single-user mode."
		echo
		echo "Shapes:"
		echo
		for s in $INSTR_SHAPES; do
			echo "- **$s**: $(instr_shape_label "$s")"
		done
		echo
		echo "Configurations: $(for c in $INSTR_CONFIGS; do printf '**%s** = %s; ' "$c" "$(config_label "$c")"; done | sed 's/; $//')."
		echo
		echo "| shape | none: instructions per statement | pg_stat_statements adds | this fork adds (defaults) | fork ÷ pgss | this fork adds (all captures on) | fork at defaults ≤ pgss? |"
		echo "|---|---|---|---|---|---|---|"
		for s in $INSTR_SHAPES; do
			local base pgss pgsm all verdict ratio
			base=$(awk -v s="$s" '$1 == "none" && $2 == s { print $3 }' "$raw/per-statement")
			pgss=$(awk -v s="$s" '$1 == "pgss" && $2 == s { print $3 }' "$raw/per-statement")
			pgsm=$(awk -v s="$s" '$1 == "pgsm" && $2 == s { print $3 }' "$raw/per-statement")
			all=$(awk -v s="$s" '$1 == "pgsm_all" && $2 == s { print $3 }' "$raw/per-statement")
			if [ "$base" = failed ] || [ "$pgss" = failed ] || [ "$pgsm" = failed ]; then
				echo "| $s | $base | $pgss | $pgsm | | $all | run failed |"
				worst_ok=0
				continue
			fi
			local a_pgss a_pgsm a_all
			a_pgss=$(calc "$pgss - $base")
			a_pgsm=$(calc "$pgsm - $base")
			if [ "$all" = failed ]; then a_all=failed; else a_all=$(fmt %+.0f "$(calc "$all - $base")"); fi
			# a ratio to next to nothing says nothing
			ratio=$(awk -v a="$a_pgsm" -v b="$a_pgss" 'BEGIN { if (b >= 100) printf "%.2f", a / b; else print "–" }')
			if awk -v a="$a_pgsm" -v b="$a_pgss" 'BEGIN { exit !(a <= b) }'; then
				verdict=yes
			else
				verdict="**no**"
				worst_ok=0
				if [ "$ratio" = "–" ]; then
					missed="$missed $s,"
				else
					missed="$missed $s (${ratio}×),"
				fi
			fi
			printf '| %s | %.0f | %+.0f | %+.0f | %s | %s | %s |\n' \
				"$s" "$base" "$a_pgss" "$a_pgsm" "$ratio" "$a_all" "$verdict"
		done
		echo
		echo "Where this fork's own instructions go at defaults: each function of pg_stat_monitor.so with its own (self) instructions per statement, the same difference of the two runs; the PostgreSQL and C library functions it calls (for example \`getrusage\`, \`memset\`, \`hash_bytes\`) are not included."
		echo
		echo "| shape | functions of pg_stat_monitor.so, self instructions per statement (largest first) | sum |"
		echo "|---|---|---|"
		for s in $INSTR_SHAPES; do
			local a="$raw/pgsm-$s-$n.callgrind" b="$raw/pgsm-$s-$((10 * n)).callgrind"
			[ -f "$a" ] && [ -f "$b" ] || continue
			instr_functions "$a" "$b" "$n" >"$raw/functions-$s"
			printf '| %s | %s | %.0f |\n' "$s" \
				"$(awk '$2 >= 1 { printf "%s`%s` %.0f", (NR > 1 ? ", " : ""), $1, $2 }' "$raw/functions-$s" | cut -c1-900)" \
				"$(awk '{ t += $2 } END { print t + 0 }' "$raw/functions-$s")"
		done
		echo
	} >"$out"

	if [ "$worst_ok" = 1 ]; then
		target "instructions added per statement ≤ pg_stat_statements's, every shape" "see part 2" met ""
	else
		target "instructions added per statement ≤ pg_stat_statements's, every shape" "see part 2" MISSED "this fork adds more for:${missed%,}; pg_stat_statements does not record failed statements"
	fi
}
