# bench/flood.sh: part 5, a flood of distinct statements (placeholder).

part_flood() {
	local out="$OUT/5-flood.md"
	say "part 5: flood"
	if ! exporter_available; then
		{
			echo "## 5. Distinct-statement flood"
			echo
			echo "Not available: the exporter is not in this checkout yet."
			echo
		} >"$out"
		target "nothing lost in a flood of 50,000 distinct statements" "not available" "not measured" "no exporter in this checkout"
		return 0
	fi
}
