#!/usr/bin/env bash
# Writes pg_stat_monitor's HTML report to a file: the last hour, or a given
# range; or, with -2, the diff report of two ranges.
#
#   bash scripts/report.sh                                 last hour
#   bash scripts/report.sh '2026-12-01 09:00' '2026-12-01 17:00'
#   bash scripts/report.sh -2 FROM1 TO1 FROM2 TO2          two periods side by side
#
# Options: -o FILE (default pgsm-report-<time>.html), -c CONNINFO (the
# database that holds history, pg_stat_monitor.pgsm_database; psql's usual
# PG* variables apply too), -d DATABASE and -u USER (only that database's or
# user's statements), -t N (top N statements, 10 by default).  The user
# connecting needs the privileges of pg_read_all_stats.
set -euo pipefail

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

out=
conn=
db=
user=
top=10
diff=
while getopts "o:c:d:u:t:2h" opt; do
    case $opt in
        o) out=$OPTARG ;;
        c) conn=$OPTARG ;;
        d) db=$OPTARG ;;
        u) user=$OPTARG ;;
        t) top=$OPTARG ;;
        2) diff=1 ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))

if [ -n "$diff" ]; then
    [ $# -eq 4 ] || usage
    sql="SELECT pg_stat_monitor_diff_report(:'f1', :'t1', :'f2', :'t2',
                                            nullif(:'db', ''), nullif(:'usr', ''), :'top')"
else
    [ $# -le 2 ] || usage
    sql="SELECT pg_stat_monitor_report(coalesce(nullif(:'f1', '')::timestamptz, now() - interval '1 hour'),
                                       coalesce(nullif(:'t1', '')::timestamptz, now()),
                                       nullif(:'db', ''), nullif(:'usr', ''), :'top')"
fi
out=${out:-pgsm-report-$(date +%Y%m%d-%H%M%S).html}

# Variables are interpolated in what psql reads, not in -c: the query goes
# in on standard input, the values as psql variables (quoted by psql).
# On failure, no empty or partial file is left behind.
if ! echo "$sql" | psql -X -q -At -v ON_ERROR_STOP=1 ${conn:+"$conn"} \
        -v f1="${1:-}" -v t1="${2:-}" -v f2="${3:-}" -v t2="${4:-}" \
        -v db="$db" -v usr="$user" -v top="$top" -o "$out"; then
    rm -f "$out"
    exit 1
fi
echo "$out"
