# bench/instr.sh: part 2, instructions and system calls per statement.
#
# For each configuration and statement shape, "postgres --single" runs N and
# then 10*N statements of that shape read from stdin, under
#   valgrind --tool=callgrind
# each time on a fresh copy of the same data directory.  The difference of
# the two instruction totals, divided by 9*N, is the cost of one statement
# with start-up and shut-down taken out.  Instruction counts do not depend
# on the machine's load, so the runs go two at a time.
#
# Each shape is run twice: repeated (one query id, the constants varying,
# so that after the first statement every one finds its entry) and first
# time (every statement with a query id of its own, so that every one makes
# an entry).  System calls are counted the same way, under strace -c.

INSTR_N=${BENCH_INSTR_N:-500}
# first-time statements: fewer, so that they all find room
INSTR_NEW_N=${BENCH_INSTR_NEW_N:-100}
INSTR_SHAPES=${BENCH_INSTR_SHAPES:-"select update join utility error long"}
INSTR_CONFIGS=${BENCH_INSTR_CONFIGS:-"none pgss pgsm pgsm_cpu0 pgsm_all"}
# shapes whose system calls are counted
INSTR_STRACE_SHAPES=${BENCH_INSTR_STRACE_SHAPES:-"select utility select_new"}

# A comment and a select list that make the "long" shape about 2 KB.
INSTR_LONG_HEAD="/* application: bench, controller: accounts, action: statement, request: 1f3a9c */"

instr_shape_label() {
	case $1 in
	select) echo "\`SELECT k + 1\`, k varying" ;;
	update) echo "pgbench's UPDATE: \`UPDATE pgbench_accounts SET abalance = abalance + \$1 WHERE aid = \$2\`" ;;
	join) echo "\`SELECT a.aid, a.abalance, b.bbalance FROM pgbench_accounts a JOIN pgbench_branches b USING (bid) WHERE a.aid = \$1\`" ;;
	utility) echo "\`SET work_mem = '4MB'\`" ;;
	error) echo "a statement that fails in execution: \`SELECT abalance / 0 FROM pgbench_accounts WHERE aid = \$1\`" ;;
	long) echo "about 2 KB: a leading comment, then a SELECT of 40 expressions on pgbench_accounts, each with a comment (one line: single-user mode ends a statement at a newline), \`WHERE aid = \$1\`" ;;
	esac
}

# instr_statements SHAPE COUNT: COUNT statements of SHAPE, one a line.
# Literals vary (and are normalized away); the sequence is the same every
# run.  SHAPE_new: the first-time variant, where statement i has a query id
# of its own: it names other columns of bench_wide (100 integer columns),
# and for SET, whose query id on PostgreSQL 15 is a hash of its text,
# another value.
instr_statements() {
	awk -v shape="$1" -v n="$2" -v head="$INSTR_LONG_HEAD" 'BEGIN {
		for (i = 0; i < n; i++) {
			aid = (i * 7919) % 100000 + 1; d = i % 10000 - 5000
			a = i % 100; b = int(i / 100) % 100
			if (shape == "select") printf "SELECT %d + 1;\n", d
			else if (shape == "update") printf "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = %d;\n", d, aid
			else if (shape == "join") printf "SELECT a.aid, a.abalance, b.bbalance FROM pgbench_accounts a JOIN pgbench_branches b USING (bid) WHERE a.aid = %d;\n", aid
			else if (shape == "utility") print "SET work_mem = '\''4MB'\'';"
			else if (shape == "error") printf "SELECT abalance / 0 FROM pgbench_accounts WHERE aid = %d;\n", aid
			else if (shape == "long" || shape == "long_new") {
				printf "%s SELECT", head
				for (k = 0; k < 40; k++)
					printf "%s a.abalance + %d AS v%d /* value %d of the report */", (k ? "," : ""), k, k, k
				if (shape == "long") printf " FROM pgbench_accounts a WHERE a.aid = %d;\n", aid
				else printf ", w.c%d, w.c%d FROM pgbench_accounts a, bench_wide w WHERE a.aid = %d;\n", a, b, aid
			}
			else if (shape == "select_new") printf "SELECT c%d + c%d + 1 FROM bench_wide;\n", a, b
			else if (shape == "update_new") printf "UPDATE bench_wide SET c%d = c%d + %d WHERE id = 1;\n", a, b, d
			else if (shape == "join_new") printf "SELECT a.c%d, b.c%d FROM bench_wide a JOIN bench_wide b USING (id) WHERE a.id = %d;\n", a, b, aid
			else if (shape == "utility_new") printf "SET work_mem = '\''%dkB'\'';\n", 64 + i
			else if (shape == "error_new") printf "SELECT c%d / 0 + c%d FROM bench_wide;\n", a, b
		}
	}'
}

# instr_conf CONFIG SHAPE TOOL: the configuration's settings.  First-time
# statements make an entry each: this fork's store is given room for all of
# them and their texts (pg_stat_statements keeps 5000 at its defaults).
instr_conf() {
	config_settings "$1"
	case $1:$2 in
	pgsm*:*_new) echo "pg_stat_monitor.pgsm_max = '8MB'" ;;
	esac
	# Under valgrind a run lasts minutes, not the milliseconds its statements
	# take natively: with 60 s buckets it would cross bucket ends that the
	# same statements cross once in thousands, each making every repeated
	# statement's entry anew, at random in one run of a pair and not the
	# other.  A bucket of a day keeps that (first-time) cost out of the
	# repeated rows.
	case $1 in
	pgsm*) echo "pg_stat_monitor.pgsm_bucket_time = 86400" ;;
	esac
	# For the same reason, under valgrind a backend would read its CPU time
	# after almost every statement, where natively, at the default interval
	# of 1 ms, it reads it once in tens or hundreds of statements: the
	# configurations that keep the interval read it once a second, and
	# pgsm_cpu0 shows the cost of reading it after every statement.
	case $1:${3:-callgrind} in
	pgsm:callgrind | pgsm_all:callgrind) echo "pg_stat_monitor.pgsm_cpu_time_interval = 1000" ;;
	esac
}

# instr_one CONFIG SHAPE COUNT [strace]: one callgrind run (or, with
# "strace", one strace -c run); writes its total of instructions (or of
# system calls) to $raw.
instr_one() {
	local c=$1 s=$2 n=$3 tool=${4:-callgrind} raw="$OUT/raw/instr"
	local dir="$WORK/cg/run-$tool-$c-$s-$n" total
	cp -a "$WORK/cg/data" "$dir"
	instr_conf "$c" "$s" "$tool" >"$dir/bench.conf"
	if [ "$tool" = strace ]; then
		as_pg strace -c -f -o "$dir/strace.out" \
			postgres --single -D "$dir" postgres \
			<"$WORK/cg/$s-$n.sql" >/dev/null 2>"$dir/stderr" || true
		# "% time seconds usecs/call calls [errors] syscall" lines
		awk '$NF != "total" && $1 ~ /^[0-9.]+$/ && NF >= 5 { print $NF, $4 }' \
			"$dir/strace.out" 2>/dev/null | sort >"$raw/strace-$c-$s-$n.calls"
		total=$(awk '$NF == "total" { print $4 }' "$dir/strace.out" 2>/dev/null)
		echo "${total:-failed}" >"$raw/strace-$c-$s-$n.total"
		rm -rf "$dir"
		return
	fi
	as_pg valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
		postgres --single -D "$dir" postgres \
		<"$WORK/cg/$s-$n.sql" >/dev/null 2>"$dir/stderr" || true
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

# instr_count SHAPE: N for a shape (first-time shapes run fewer).
instr_count() {
	case $1 in *_new) echo "$INSTR_NEW_N" ;; *) echo "$INSTR_N" ;; esac
}

# instr_per CONFIG SHAPE [strace]: per statement, (total(10N) - total(N)) / 9N.
instr_per() {
	local raw="$OUT/raw/instr" pre="" n a b
	[ "${3:-}" = strace ] && pre="strace-"
	n=$(instr_count "$2")
	a=$(cat "$raw/$pre$1-$2-$n.total")
	b=$(cat "$raw/$pre$1-$2-$((10 * n)).total")
	case "$a$b" in *failed*) echo failed; return ;; esac
	calc "($b - $a) / (9 * $n)"
}

# instr_row SHAPE: one row of the table of instructions: the cost without
# extension, what each configuration adds, and the fork's ratio.
instr_row() {
	local s=$1 base pgss pgsm cpu0 all a_pgss a_pgsm a_cpu0 a_all ratio
	base=$(instr_per none "$s")
	pgss=$(instr_per pgss "$s")
	pgsm=$(instr_per pgsm "$s")
	cpu0=$(instr_per pgsm_cpu0 "$s" 2>/dev/null || echo failed)
	all=$(instr_per pgsm_all "$s")
	if [ "$base" = failed ] || [ "$pgss" = failed ] || [ "$pgsm" = failed ]; then
		echo "| $s | $base | $pgss | $pgsm | | $cpu0 | $all |"
		return 1
	fi
	a_pgss=$(calc "$pgss - $base")
	a_pgsm=$(calc "$pgsm - $base")
	if [ "$cpu0" = failed ]; then a_cpu0=failed; else a_cpu0=$(fmt %+.0f "$(calc "$cpu0 - $base")"); fi
	if [ "$all" = failed ]; then a_all=failed; else a_all=$(fmt %+.0f "$(calc "$all - $base")"); fi
	# a ratio to next to nothing says nothing
	ratio=$(awk -v a="$a_pgsm" -v b="$a_pgss" 'BEGIN { if (b >= 100) printf "%.2f", a / b; else print "–" }')
	printf '| %s | %.0f | %+.0f | %+.0f | %s | %s | %s |\n' \
		"$s" "$base" "$a_pgss" "$a_pgsm" "$ratio" "$a_cpu0" "$a_all"
}

part_instr() {
	local raw="$OUT/raw/instr" out="$OUT/2-instr.md" n=$INSTR_N m=$INSTR_NEW_N
	local shapes="" s c
	mkdir -p "$raw"
	for s in $INSTR_SHAPES; do shapes="$shapes $s ${s}_new"; done
	say "part 2: instructions per statement (N = $n, first time $m; $INSTR_CONFIGS)"

	# the data: pgbench's tables at scale 1, and a one-row table of 100
	# integer columns for first-time statements, made once with the server up
	cluster_init cg
	cluster_start cg
	# shellcheck disable=SC2046
	as_pg pgbench -i -q -s 1 $(conn cg) postgres >"$raw/pgbench-init.log" 2>&1
	q cg "CREATE TABLE bench_wide AS SELECT 1 AS id, $(seq -s, -f '1 AS c%g' 0 99)"
	q cg "VACUUM ANALYZE"
	q cg "CHECKPOINT"
	cluster_stop cg
	chown "$RUNNER" "$WORK/cg"
	for s in $shapes; do
		local k
		k=$(instr_count "$s")
		instr_statements "$s" "$k" >"$WORK/cg/$s-$k.sql"
		instr_statements "$s" $((10 * k)) >"$WORK/cg/$s-$((10 * k)).sql"
	done

	# as many runs at a time as there are cores (BENCH_INSTR_JOBS: more,
	# when the machine is shared and valgrind's start-up dominates)
	local jobs=0 max count tool
	max=${BENCH_INSTR_JOBS:-$(nproc)}
	for tool in callgrind strace; do
		for c in $INSTR_CONFIGS; do
			for s in $shapes; do
				[ "$tool" = strace ] && case " $INSTR_STRACE_SHAPES " in *" $s "*) ;; *) continue ;; esac
				k=$(instr_count "$s")
				for count in "$k" $((10 * k)); do
					instr_one "$c" "$s" "$count" "$tool" &
					jobs=$((jobs + 1))
					if [ "$jobs" -ge "$max" ]; then
						wait -n || true
						jobs=$((jobs - 1))
					fi
				done
			done
		done
	done
	wait || true
	local bad
	bad=$({ grep -l '^failed$' "$raw"/*.total 2>/dev/null || true; } | head -n 3 | xargs -r -n1 basename | tr '\n' ' ')
	[ -z "$bad" ] || cannot_measure "runs failed: $bad(their stderr is in $raw)"

	for c in $INSTR_CONFIGS; do
		for s in $shapes; do
			echo "$c $s $(instr_per "$c" "$s")"
		done
	done >"$raw/per-statement"

	local worst_ok=1 missed=""
	{
		echo "## 2. Instructions per statement"
		echo
		echo "\`valgrind --tool=callgrind\` on \`postgres --single\` reading N and then 10·N statements of one shape from stdin, each run on a fresh copy of one data directory (pgbench tables at scale 1);"
		echo "instructions per statement = (total for 10·N − total for N) / 9·N, so start-up and shut-down cancel out."
		echo "Instruction counts are deterministic: unlike part 3's timings, they do not depend on the load other work puts on the machine (this run shared it with other jobs)."
		echo "Callgrind counts user-space instructions only: the kernel's share of system calls is not in these figures; they are counted below."
		echo "Background workers do not run in single-user mode."
		echo
		echo "**Repeated** statements (N = $n): one query id, the constants varying, so every statement but the first finds its entry."
		echo "**First-time** statements (N = $m): every statement has a query id of its own (it names other columns of \`bench_wide\`, a one-row table of 100 integer columns; SET another value, since on PostgreSQL 15 a utility statement's query id is a hash of its text), so every one makes an entry;"
		echo "this fork is then given \`pgsm_max = 8MB\` so that all of them and their texts find room (at 1 MB the store holds about 1,200 entries and 380 kB of text; past that, calls are folded into overflow rows)."
		echo "This fork runs with \`pgsm_bucket_time = 86400\` in every configuration: a run under valgrind lasts minutes, and with 60 s buckets it would cross bucket ends at random (one run of a pair and not the other), each making the repeated statement's entry anew, a first-time cost that natively falls once in thousands of statements."
		echo "For the same reason it runs with \`pgsm_cpu_time_interval = 1000\` (ms) under valgrind, but in the column *CPU time read every statement* (\`pgsm_cpu_time_interval = 0\`): valgrind makes every statement last some fifty times longer, so that at the default 1 ms a backend would read its CPU time after almost every statement, at random, where natively it reads it once in tens to hundreds of short statements (part 3 gives the rate for pgbench). The two columns bound the native cost: a reading costs the difference between them, and at the default the fork pays it once per millisecond of a backend's statements. The system calls below are counted at the default interval."
		echo
		echo "Shapes (the first-time variant of each has the same form on \`bench_wide\`):"
		echo
		for s in $INSTR_SHAPES; do
			echo "- **$s**: $(instr_shape_label "$s")"
		done
		echo
		echo "Configurations: $(for c in $INSTR_CONFIGS; do printf '**%s** = %s; ' "$c" "$(config_label "$c")"; done | sed 's/; $//')."
		echo "pg_stat_statements does not record a statement that fails; this fork records it with its error."
		echo
		echo "| shape | none: instructions per statement | pg_stat_statements adds | this fork adds (defaults) | fork ÷ pgss | this fork adds, CPU time read every statement | this fork adds (all captures on) |"
		echo "|---|---|---|---|---|---|---|"
		for s in $shapes; do
			instr_row "$s" || worst_ok=0
		done
		echo
	} >"$out"

	# the target: at defaults, repeated statements add no more than pgss's
	for s in $INSTR_SHAPES; do
		local a_pgss a_pgsm
		a_pgss=$(calc "$(instr_per pgss "$s") - $(instr_per none "$s")")
		a_pgsm=$(calc "$(instr_per pgsm "$s") - $(instr_per none "$s")")
		if ! awk -v a="$a_pgsm" -v b="$a_pgss" 'BEGIN { exit !(a <= b) }'; then
			worst_ok=0
			missed="$missed $s ($(fmt %+.0f "$a_pgsm") against $(fmt %+.0f "$a_pgss")),"
		fi
	done

	{
		echo "System calls per statement, counted by \`strace -c -f\` the same way (the difference of N and 10·N statements, without valgrind):"
		echo
		echo "| shape | $(for c in $INSTR_CONFIGS; do printf '%s | ' "$c"; done | sed 's/ | $//') |"
		echo "|---$(for c in $INSTR_CONFIGS; do printf '|---'; done)|"
		for s in $INSTR_STRACE_SHAPES; do
			printf '| %s |' "$s"
			for c in $INSTR_CONFIGS; do
				local per k calls
				per=$(instr_per "$c" "$s" strace)
				k=$(instr_count "$s")
				# which calls a statement makes: those that grew with N
				calls=$(join -a 2 -e 0 -o 0,1.2,2.2 "$raw/strace-$c-$s-$k.calls" "$raw/strace-$c-$s-$((10 * k)).calls" |
					awk -v n="$k" '{ d = ($3 - $2) / (9 * n); if (d >= 0.05) printf "%s%s %.2f", (o++ ? ", " : ""), $1, d }')
				printf ' %s%s |' "$(fmt %.2f "$per")" "${calls:+ ($calls)}"
			done
			echo
		done
		echo
		echo "Where this fork's own instructions go at defaults: each function of pg_stat_monitor.so with its own (self) instructions per statement, the same difference of the two runs; the PostgreSQL and C library functions it calls (for example \`getrusage\`, \`memset\`, \`hash_bytes\`) are not included."
		echo
		echo "| shape | functions of pg_stat_monitor.so, self instructions per statement (largest first) | sum |"
		echo "|---|---|---|"
		for s in $shapes; do
			local k a b
			k=$(instr_count "$s")
			a="$raw/pgsm-$s-$k.callgrind" b="$raw/pgsm-$s-$((10 * k)).callgrind"
			[ -f "$a" ] && [ -f "$b" ] || continue
			instr_functions "$a" "$b" "$k" >"$raw/functions-$s"
			printf '| %s | %s | %.0f |\n' "$s" \
				"$(awk '$2 >= 1 { printf "%s`%s` %.0f", (NR > 1 ? ", " : ""), $1, $2 }' "$raw/functions-$s" | cut -c1-900)" \
				"$(awk '{ t += $2 } END { print t + 0 }' "$raw/functions-$s")"
		done
		echo
	} >>"$out"

	if [ "$worst_ok" = 1 ]; then
		target "instructions added per repeated statement ≤ pg_stat_statements's, every shape" "see part 2" met ""
	else
		target "instructions added per repeated statement ≤ pg_stat_statements's, every shape" "see part 2" MISSED "this fork adds more for:${missed%,}"
	fi
}
