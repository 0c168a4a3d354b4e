#!/usr/bin/env bash
# Builds and installs pg_stat_monitor, then shows it at work on a throwaway
# local cluster: a short pgbench workload, what was collected live, what the
# worker exported to history, and how full the store is; it ends by writing
# the HTML report of the run (scripts/report.sh) to
# /tmp/pgsm-demo-report.html, or to $PGSM_DEMO_REPORT.  On a fresh Debian
# 12 machine it first installs what it needs.  Run as root (or with sudo).
#
# PG=17 or PG=18 shows it on that version instead of the machine's own 15,
# inside the Debian chroot that scripts/test.sh uses (made the first time);
# PGSM_CHROOT=1 does the same for 15.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pg=${PG:-15}
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

case $pg in
    15 | 17 | 18) ;;
    *) echo "demo.sh: PG=$pg: supported versions are 15, 17 and 18" >&2; exit 2 ;;
esac
if { [ "$pg" != 15 ] || [ -n "${PGSM_CHROOT:-}" ]; } && [ -z "${PGSM_IN_CHROOT:-}" ]; then
    root=$($sudo bash "$top/scripts/chroot.sh" "$pg")
    src=$($sudo mktemp -d "$root/tmp/pgsm-src.XXXXXX")
    trap '$sudo rm -rf "$src"' EXIT
    $sudo "$top/scripts/copy-tree.sh" "$top" "$src"
    echo "== PostgreSQL $pg, in $root"
    $sudo chroot "$root" env PG="$pg" PGSM_IN_CHROOT=1 bash "${src#"$root"}/scripts/demo.sh"
    exit
fi

[ -n "${PGSM_IN_CHROOT:-}" ] || "$top/scripts/deps.sh"
export PATH=/usr/lib/postgresql/$pg/bin:$PATH

work=$(mktemp -d /tmp/pgsm-demo.XXXXXX)
"$top/scripts/copy-tree.sh" "$top" "$work"
make -C "$work" -s
$sudo make -C "$work" -s install

runner=postgres
$sudo chown -R "$runner" "$work"
as_runner() { $sudo -u "$runner" env PATH="$PATH" "$@"; }
[ "$(id -u)" -eq 0 ] && as_runner() { runuser -u "$runner" -- env PATH="$PATH" "$@"; }

data=$work/data
port=$((20000 + RANDOM % 10000))
cleanup() {
    as_runner pg_ctl -D "$data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

as_runner initdb -D "$data" -A trust >/dev/null
cat <<CONF | as_runner tee -a "$data/postgresql.conf" >/dev/null
shared_preload_libraries = 'pg_stat_monitor'
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
pg_stat_monitor.pgsm_bucket_time = 5
CONF
as_runner pg_ctl -D "$data" -l "$work/log" -w start >/dev/null
psql() { as_runner psql -X -h "$work" -p "$port" -d postgres "$@"; }

psql -q -c "CREATE EXTENSION pg_stat_monitor"
echo "== pgbench: 10 seconds of a TPC-B-like workload"
as_runner pgbench -h "$work" -p "$port" -i -q -s 2 postgres >/dev/null 2>&1
as_runner pgbench -h "$work" -p "$port" -c 2 -T 10 postgres 2>/dev/null | grep -E "^(tps|number of transactions actually)"
psql -q -c "SELECT pg_stat_monitor_flush()" >/dev/null
sleep 6

echo
echo "== shared memory used by pg_stat_monitor (pg_shmem_allocations)"
psql -c "SELECT name, pg_size_pretty(allocated_size) AS size FROM pg_shmem_allocations WHERE name LIKE 'pg_stat_monitor%'"

echo "== the five statements that took longest, from pg_stat_monitor (history, refreshed each bucket)"
psql -c "SELECT substr(min(query), 1, 60) AS query, sum(calls) AS calls,
                round(sum(total_exec_time)::numeric, 1) AS total_ms,
                sum(rows) AS rows, sum(shared_blks_hit) AS hits
         FROM pg_stat_monitor GROUP BY queryid ORDER BY total_ms DESC LIMIT 5"

echo "== calls per bucket, from the history table"
psql -c "SELECT bucket_start_time, count(*) AS entries, sum(calls) AS calls
         FROM pg_stat_monitor_history GROUP BY 1 ORDER BY 1"

echo "== the live store: the bucket in progress"
psql -c "SELECT count(*) AS entries, coalesce(sum(calls), 0) AS calls FROM pg_stat_monitor_live"

echo "== pg_stat_monitor_info: how full the store is, and what the worker did"
psql -x -c "SELECT size, entries_max, entries, text_bytes_max, text_bytes, calls_folded,
                   exports, rows_exported, early_flushes,
                   round(last_export_ms::numeric, 2) AS last_export_ms,
                   round(last_lock_ms::numeric, 3) AS last_lock_ms, last_error
            FROM pg_stat_monitor_info"

report=${PGSM_DEMO_REPORT:-/tmp/pgsm-demo-report.html}
echo
echo "== the HTML report of the last ten minutes (scripts/report.sh)"
as_runner bash "$work/scripts/report.sh" -c "host=$work port=$port dbname=postgres" \
    -o "$work/report.html" "$(date -u -d '-10 min' '+%Y-%m-%d %H:%M:%S+00')" >/dev/null
cp "$work/report.html" "$report"
echo "$report ($(wc -c <"$report") bytes): open it in a browser"
