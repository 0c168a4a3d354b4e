# bench/export.sh: part 4, the exporter (placeholder until it lands).

exporter_available() {
	[ -f "$WORK/build/sql/pg_stat_monitor--2.0--2.1.sql" ] &&
		[ -f "$WORK/build/sql/pg_stat_monitor--2.1--2.2.sql" ]
}

part_export() {
	local out="$OUT/4-export.md"
	say "part 4: export"
	if ! exporter_available; then
		{
			echo "## 4. Export"
			echo
			echo "Not available: the exporter (sql/pg_stat_monitor--2.0--2.1.sql, sql/pg_stat_monitor--2.1--2.2.sql) is not in this checkout yet."
			echo
		} >"$out"
		target "export ≤ 10 µs per entry, lock held < 1 ms per flush" "not available" "not measured" "no exporter in this checkout"
		target "view refresh does not grow with history" "not available" "not measured" "no exporter in this checkout"
		return 0
	fi
}
