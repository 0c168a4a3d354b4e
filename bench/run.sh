#!/usr/bin/env bash
# Runs every benchmark of pg_stat_monitor on throwaway local clusters and
# writes BENCHMARKS.md at the top of the checkout.  Run as root (or as a
# user with sudo) on Debian 12:
#
#   bash bench/run.sh                 everything (about 20 minutes)
#   bash bench/run.sh shmem instr     only some parts: shmem instr tps export flood statements compact reports
#   BENCH_TREE=worktree bash bench/run.sh   measure uncommitted files too
#
# It installs what it needs (scripts/deps.sh), builds and installs the
# extension from a private copy of the checkout, and starts its servers as
# user postgres in a temporary directory, on Unix sockets only.  Raw outputs
# go to bench/out/ (not committed).  Running only some parts rewrites only
# their sections of BENCHMARKS.md from bench/out/; the others are kept from
# the last run that made them.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bench="$top/bench"
OUT="$bench/out"
export OUT
all_parts="shmem instr tps export flood statements compact reports"
parts=${*:-$all_parts}
for p in $parts; do
	case " $all_parts " in *" $p "*) ;; *) echo "unknown part: $p (parts: $all_parts)" >&2; exit 2 ;; esac
done

if [ "$(id -u)" -ne 0 ]; then
	exec sudo -E bash "$0" "$@"
fi

# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
for f in shmem instr tps export flood statements compact reports report; do
	# shellcheck disable=SC1090
	. "$bench/$f.sh"
done

started=$(date +%s)
"$top/scripts/deps.sh"
# and what only the benchmark uses: ps (procps) to see what else runs
if ! command -v ps >/dev/null; then
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends procps
fi
export PATH="$PGBIN:$PATH"

work_init
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT/raw"
# a partial run keeps the other parts' sections
for p in $parts; do
	rm -rf "$OUT/raw/$p" "$OUT"/[0-9]-"$p".md
done

# Statistics extensions other than ours that happen to be installed are
# measured too (part 1).  Upstream pg_stat_monitor has our library's name,
# so it can only be found before our build replaces it.
libdir=$(pg_config --pkglibdir)
: >"$WORK/extras"
if [ -f "$libdir/pg_stat_monitor.so" ] && ! grep -q pgsm_worker_main "$libdir/pg_stat_monitor.so"; then
	mkdir -p "$WORK/upstream"
	cp "$libdir/pg_stat_monitor.so" "$WORK/upstream/pg_stat_monitor.so"
	chmod -R a+rX "$WORK/upstream"
	echo "upstream pg_stat_monitor, defaults|$WORK/upstream/pg_stat_monitor" >>"$WORK/extras"
fi
for ext in pg_stat_kcache pg_qualstats pg_wait_sampling pg_store_plans pg_stat_plans pgsentinel; do
	[ -f "$libdir/$ext.so" ] || continue
	case $ext in
	pg_stat_kcache | pg_qualstats | pgsentinel) echo "$ext, defaults (with pg_stat_statements)|pg_stat_statements,$ext" ;;
	*) echo "$ext, defaults|$ext" ;;
	esac >>"$WORK/extras"
done

# Build and install from a private copy of the last commit (or, with
# BENCH_TREE=worktree, of the files as they are now), so that a checkout
# being edited is not disturbed and the report names what it measured.
say "building pg_stat_monitor"
mkdir -p "$WORK/build"
if ! git -C "$top" rev-parse HEAD >/dev/null 2>&1; then
	# a copy of the tree without git (as in a chroot): the files as they
	# are, named by BENCH_COMMIT
	bash "$top/scripts/copy-tree.sh" "$top" "$WORK/build"
	commit=${BENCH_COMMIT:-"unknown (not a git checkout)"}
elif [ "${BENCH_TREE:-head}" = worktree ]; then
	commit=$(git -C "$top" rev-parse --short HEAD)
	git -C "$top" ls-files -co --exclude-standard -z |
		(cd "$top" && xargs -0 cp --parents -t "$WORK/build")
	if [ -n "$(git -C "$top" status --porcelain -- src sql Makefile pg_stat_monitor.control)" ]; then
		commit="$commit plus uncommitted changes"
	fi
else
	commit=$(git -C "$top" rev-parse --short HEAD)
	git -C "$top" archive HEAD | tar -x -C "$WORK/build"
fi
# BENCH_INSTALLED=1: measure the build a run still going has installed,
# without installing it again under that run's servers
if [ "${BENCH_INSTALLED:-}" != 1 ]; then
	make -C "$WORK/build" -s >"$OUT/raw/build.log" 2>&1 || { cat "$OUT/raw/build.log" >&2; exit 1; }
	make -C "$WORK/build" -s install >>"$OUT/raw/build.log" 2>&1 || { cat "$OUT/raw/build.log" >&2; exit 1; }
fi
echo "$commit" >"$OUT/raw/commit"

for p in $parts; do
	PART=$p
	: >"$OUT/targets-$p.tsv"
	date -u "+%Y-%m-%d %H:%M UTC" >"$OUT/raw/date-$p"
	cp "$OUT/raw/commit" "$OUT/raw/commit-$p"
	t0=$(date +%s)
	machine_load >"$OUT/raw/load-$p"
	case $p in
	shmem) part_shmem ;;
	instr) part_instr ;;
	tps) part_tps ;;
	export) part_export ;;
	flood) part_flood ;;
	statements) part_statements ;;
	compact) part_compact ;;
	reports) part_reports ;;
	esac
	echo $(($(date +%s) - t0)) >"$OUT/raw/secs-$p"
	echo "; after: $(machine_load)" >>"$OUT/raw/load-$p"
done
cleanup
trap - EXIT

elapsed=$(($(date +%s) - started))
[ "$parts" = "$all_parts" ] && echo "$elapsed" >"$OUT/raw/full-run-secs"
say "finished in $((elapsed / 60)) min $((elapsed % 60)) s"
write_report "$top/BENCHMARKS.md"
