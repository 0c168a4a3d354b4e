# bench/shmem.sh: part 1, shared memory and the postmaster's resident memory.
#
# One cluster, restarted once per configuration.  After each start it reads
# pg_shmem_allocations (named areas, the "<anonymous>" total and the unused
# rest), shared_memory_size, and the postmaster's memory from /proc, and
# compares them with the same server without any extension.

# Bytes, in a readable form: 1048576 -> "1,048,576 B (1.00 MiB)"
bytes_h() {
	awk -v b="$1" 'BEGIN {
		s = sprintf("%.0f", b < 0 ? -b : b); o = "";
		while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
		printf "%s%s%s B (%.2f MiB)", (b < 0 ? "-" : ""), s, o, b / 1048576 }'
}

part_shmem() {
	local out="$OUT/1-shmem.md" raw="$OUT/raw/shmem"
	local configs="none pgsm pgsm_phase1 pgsm_phase3 pgss $(extra_configs)"
	mkdir -p "$raw"
	say "part 1: shared memory ($configs)"

	cluster_init shm
	for c in $configs; do
		cluster_conf shm "$(config_settings "$c")"
		cluster_start shm ||
			cannot_measure "the server did not start with configuration \"$(config_label "$c")\""
		sleep 2		# let the background workers start
		q shm "SELECT coalesce(name, '(unused)'), off, size, allocated_size
		       FROM pg_shmem_allocations ORDER BY 1" >"$raw/$c.alloc"
		q shm "SHOW shared_memory_size" >"$raw/$c.size"
		grep -E '^(VmRSS|RssAnon|RssFile|RssShmem):' "/proc/$(cluster_pid shm)/status" |
			awk '{ print $1, $2 * 1024 }' >"$raw/$c.rss"
		cluster_stop shm
	done

	# sums per kind, in bytes
	sums() {
		awk -F'|' '
			$1 == "(unused)" { free += $4; next }
			$1 == "<anonymous>" { anon += $4; next }
			{ named += $4 }
			END { printf "%d %d %d %d\n", named, anon, free, named + anon + free }' "$1"
	}
	rss() { awk -v k="$2:" '$1 == k { print $2 }' "$1"; }

	read -r b_named b_anon b_free b_total < <(sums "$raw/none.alloc")
	local b_size b_rss b_shm
	b_size=$(sed 's/MB$//' "$raw/none.size")
	b_rss=$(rss "$raw/none.rss" VmRSS)
	b_shm=$(rss "$raw/none.rss" RssShmem)

	{
		echo "## 1. Shared memory"
		echo
		echo "Each configuration is the same freshly made cluster (PostgreSQL defaults, \`shared_buffers = 128MB\`, \`huge_pages = off\`), restarted with other \`shared_preload_libraries\`."
		echo "Differences are against the server without any extension, whose segment has $(bytes_h "$b_total") in \`pg_shmem_allocations\` and \`shared_memory_size\` = $(cat "$raw/none.size");"
		echo "named = named areas, anonymous = the \`<anonymous>\` row, unused = the row with no name (the segment's slack)."
		echo "RSS is the postmaster's \`VmRSS\` two seconds after start (\`RssShmem\` is the part of it in shared memory)."
		echo
		echo "| configuration | named Δ | anonymous Δ | unused Δ | whole segment Δ | shared_memory_size (Δ) | postmaster RSS (Δ) | of which shared (Δ) | areas added |"
		echo "|---|---|---|---|---|---|---|---|---|"
		for c in $configs; do
			read -r named anon free total < <(sums "$raw/$c.alloc")
			local size rss_b shm_b added
			size=$(sed 's/MB$//' "$raw/$c.size")
			rss_b=$(rss "$raw/$c.rss" VmRSS)
			shm_b=$(rss "$raw/$c.rss" RssShmem)
			added=$(awk -F'|' 'NR == FNR { base[$1] = $4; next }
				$1 != "(unused)" && $1 != "<anonymous>" && base[$1] != $4 {
					printf "%s`%s` %d B", sep, $1, $4 - base[$1]; sep = ", " }' \
				"$raw/none.alloc" "$raw/$c.alloc")
			printf '| %s | %s | %s | %s | **%s** | %s MB (%+d MB) | %s MiB (%+.1f MiB) | %s MiB (%+.1f MiB) | %s |\n' \
				"$(config_label "$c")" \
				"$(bytes_h $((named - b_named)))" "$(bytes_h $((anon - b_anon)))" \
				"$(bytes_h $((free - b_free)))" "$(bytes_h $((total - b_total)))" \
				"$size" $((size - b_size)) \
				"$(fmt %.1f "$(calc "$rss_b / 1048576")")" "$(calc "($rss_b - $b_rss) / 1048576")" \
				"$(fmt %.1f "$(calc "$shm_b / 1048576")")" "$(calc "($shm_b - $b_shm) / 1048576")" \
				"${added:-none}"
		done
		echo
		grep -q '^upstream' "$WORK/extras" ||
			echo "Upstream pg_stat_monitor is **not measured** by this benchmark: it is not installed here (this fork's library has its name), and the benchmark never builds or downloads it. For comparison only, a published figure, not a measurement: upstream's documentation (https://docs.percona.com/pg-stat-monitor/configuration.html) gives its defaults as \`pgsm_max\` = 256 MB and \`pgsm_query_shared_buffer\` = 20 MB, that is about 276 MB of shared memory at its defaults. Any other statistics extension found installed is listed above as an extra configuration, measured."
		echo
	} >"$out"

	read -r named anon free total < <(sums "$raw/pgsm.alloc")
	local d=$((total - b_total))
	if [ "$d" -le 1048576 ]; then
		target "shared memory at defaults ≤ 1 MiB" "$(bytes_h "$d")" met "whole segment, against no extension"
	else
		target "shared memory at defaults ≤ 1 MiB" "$(bytes_h "$d")" MISSED "whole segment, against no extension; see part 1 for what grew"
	fi
}
