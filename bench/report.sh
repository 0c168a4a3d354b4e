# bench/report.sh: assembles BENCHMARKS.md from the parts' sections in
# bench/out/.  Sourced by run.sh.

machine_table() {
	local cpu cores mem kernel debian pg
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	cores=$(nproc)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	kernel=$(uname -r)
	debian=$(cat /etc/debian_version 2>/dev/null || echo "?")
	pg=$("$PGBIN/postgres" --version)
	echo "| | |"
	echo "|---|---|"
	echo "| machine | ${cpu:-unknown CPU}, $cores cores, $mem of memory |"
	echo "| system | Debian $debian, Linux $kernel |"
	echo "| PostgreSQL | $pg |"
	echo "| valgrind | $(valgrind --version 2>/dev/null || echo none) |"
}

write_report() {
	local dest=$1 p label secs
	{
		echo "# Benchmarks"
		echo
		echo "Written by \`sudo bash bench/run.sh\` (see [docs/benchmarks.md](docs/benchmarks.md)); do not edit by hand."
		if [ -f "$OUT/raw/full-run-secs" ]; then
			secs=$(cat "$OUT/raw/full-run-secs")
			echo "The last full run took $((secs / 60)) min $((secs % 60)) s, installing and building included."
		fi
		echo
		machine_table
		echo
		echo "Each section says when it was run and which commit of the extension it measured."
		echo
		echo "## Targets"
		echo
		echo "| target | measured | verdict | notes |"
		echo "|---|---|---|---|"
		for p in $all_parts; do
			[ -s "$OUT/targets-$p.tsv" ] || continue
			awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, ($3 == "met" ? "met" : "**" $3 "**"), $4 }' "$OUT/targets-$p.tsv"
		done
		echo
		for p in $all_parts; do
			for f in "$OUT"/[0-9]-"$p".md; do
				[ -f "$f" ] || continue
				# the section's title, then when and what it measured
				head -n 1 "$f"
				echo
				echo "_Run $(cat "$OUT/raw/date-$p"), extension commit $(cat "$OUT/raw/commit-$p"), $(cat "$OUT/raw/secs-$p") s. Machine load (this benchmark's own included), before: $(tr -d "\n" <"$OUT/raw/load-$p" 2>/dev/null)._"
				tail -n +2 "$f"
			done
		done
	} >"$dest"
	say "wrote $dest"
}
