#!/usr/bin/env bash
# Runs every test of pg_stat_monitor on every PostgreSQL version it
# supports: builds with warnings as errors, installs, then runs the
# regression tests and the TAP tests, each against servers of their own.
# Run as root (or as a user with sudo).
#
#   bash scripts/test.sh            everything, on 15, 17 and 18
#   bash scripts/test.sh regress    regression tests only
#   bash scripts/test.sh tap [t/..] TAP tests only (optionally some of them)
#   PG=17 bash scripts/test.sh ...  one version only (15, 17 or 18)
#
# PostgreSQL 15 is the machine's own (Debian 12; installed first if
# missing).  17 and 18 run inside a Debian chroot that has them (trixie and
# sid), which scripts/chroot.sh makes the first time (a few minutes each)
# and later runs reuse.  PGSM_CHROOT=1 runs 15 in a chroot too (bookworm),
# leaving the machine's own installation alone.  PGSM_LANE=NAME makes each
# chroot a private copy, for runs of different builds at the same time.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
versions="15 17 18"

# No version asked for: each in turn, all of them even if one fails.
if [ -z "${PG:-}" ] && [ -z "${PGSM_IN_CHROOT:-}" ]; then
    # The chroots of 17 and 18 are made (the first time) while 15's tests
    # run: making them is mostly waiting for the network and the disk.
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    # (what the machine itself needs first: apt-get runs one at a time)
    [ -n "${PGSM_CHROOT:-}" ] || "$top/scripts/deps.sh"
    prep_log=$(mktemp /tmp/pgsm-chroots.XXXXXX)
    (for v in $versions; do
        [ "$v" = 15 ] && [ -z "${PGSM_CHROOT:-}" ] && continue
        $sudo bash "$top/scripts/chroot.sh" "$v" >/dev/null || exit 1
    done) >"$prep_log" 2>&1 &
    prep=$!
    failed=
    for v in $versions; do
        if [ -n "$prep" ] && { [ "$v" != 15 ] || [ -n "${PGSM_CHROOT:-}" ]; }; then
            # a chroot that could not be made is tried again, and its error
            # shown, by the run itself
            wait "$prep" || cat "$prep_log"
            prep=
        fi
        start=$SECONDS
        echo "===== PostgreSQL $v"
        PG=$v bash "$0" "$@" || failed="$failed $v"
        echo "===== PostgreSQL $v: $((SECONDS - start)) s"
    done
    rm -f "$prep_log"
    if [ -n "$failed" ]; then
        echo "TESTS FAILED on PostgreSQL$failed"
        exit 1
    fi
    echo "all tests passed on PostgreSQL ${versions// /, }"
    exit 0
fi

what=${1:-all}
shift || true
pg=$PG
case " $versions " in
    *" $pg "*) ;;
    *) echo "test.sh: PG=$pg: supported versions are $versions" >&2; exit 2 ;;
esac

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

if { [ "$pg" != 15 ] || [ -n "${PGSM_CHROOT:-}" ]; } && [ -z "${PGSM_IN_CHROOT:-}" ]; then
    root=$($sudo bash "$top/scripts/chroot.sh" "$pg")
    src=$($sudo mktemp -d "$root/tmp/pgsm-src.XXXXXX")
    trap '$sudo rm -rf "$src"' EXIT
    $sudo "$top/scripts/copy-tree.sh" "$top" "$src"
    echo "=== PostgreSQL $pg, in $root"
    status=0
    $sudo chroot "$root" env PG="$pg" PGSM_IN_CHROOT=1 \
        bash "${src#"$root"}/scripts/test.sh" "$what" "$@" || status=$?
    if [ -d "$src/test/results" ]; then
        rm -rf "$top/test/results"
        cp -r "$src/test/results" "$top/test/results"
    fi
    exit $status
fi

[ -n "${PGSM_IN_CHROOT:-}" ] || "$top/scripts/deps.sh"
export PATH=/usr/lib/postgresql/$pg/bin:$PATH

# Build and test in a private copy: PostgreSQL will not run as root, so the
# copy belongs to an ordinary user, and the checkout itself is left alone.
runner=postgres
work=$(mktemp -d /tmp/pgsm-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$top/scripts/copy-tree.sh" "$top" "$work"

make -C "$work" -s PROFILE="-Werror"

# Install through a staging directory, moving each file into place with a
# rename and only when it changed: another run of this script may have
# servers loading the library at this very moment.
make -C "$work" -s install DESTDIR="$work/stage"
(
    flock 9
    cd "$work/stage"
    find . -type f | while read -r f; do
        dst=${f#.}
        cmp -s "$f" "$dst" && continue
        $sudo install -D -m "$(stat -c %a "$f")" "$f" "$dst.pgsm-new"
        $sudo mv -f "$dst.pgsm-new" "$dst"
    done
) 9>/tmp/pgsm-install.lock
$sudo chown -R "$runner" "$work"
run() { $sudo -u "$runner" env PATH="$PATH" PG_TEST_PORT_DIR="$PG_TEST_PORT_DIR" PGSM_SMALL_DISK="${PGSM_SMALL_DISK:-}" "$@"; }
[ "$(id -u)" -eq 0 ] && run() { runuser -u "$runner" -- env PATH="$PATH" PG_TEST_PORT_DIR="$PG_TEST_PORT_DIR" PGSM_SMALL_DISK="${PGSM_SMALL_DISK:-}" "$@"; }

# TAP servers reserve their ports in one directory shared by every run on
# the machine, so that two runs at once never pick the same TCP port.
export PG_TEST_PORT_DIR=/tmp/pgsm-test-ports
$sudo mkdir -p "$PG_TEST_PORT_DIR"
$sudo chown "$runner" "$PG_TEST_PORT_DIR"

status=0
if [ "$what" = all ] || [ "$what" = regress ]; then
    if ! run make -C "$work" -s installcheck TAP_TESTS= ; then
        status=1
        [ -f "$work/test/regression.diffs" ] && cat "$work/test/regression.diffs"
        tail -n 50 "$work"/test/tmp_check/log/postmaster.log 2>/dev/null || true
    fi
    # keep the results beside the sources, for a look or a new expected file
    rm -rf "$top/test/results"
    cp -r "$work/test/results" "$top/test/results" 2>/dev/null || true
fi
if [ "$what" = all ] || [ "$what" = tap ]; then
    tests=${*:-test/t/*.pl}
    # A filesystem of its own that a test can fill (TAP 084: the disk that
    # holds history is full), a small tmpfs: the machine's disk is never
    # filled.
    export PGSM_SMALL_DISK="$work/small-disk"
    mkdir -p "$PGSM_SMALL_DISK"
    $sudo mount -t tmpfs -o size=64m,mode=0700 pgsm-small-disk "$PGSM_SMALL_DISK"
    trap '$sudo umount "$PGSM_SMALL_DISK"; rm -rf "$work"' EXIT
    $sudo chown "$runner" "$PGSM_SMALL_DISK"
    if ! run make -C "$work" -s installcheck REGRESS= PROVE_TESTS="$tests" PROVE_FLAGS="--timer" |
        tee "$work/prove.out"; then
        status=1
        # the logs of the tests that failed (prove's summary names them), or
        # of every test if it names none: the test's own, then its servers'
        failed=$(sed -n 's|^test/t/\([^ ]*\)\.pl  *(Wstat.*|\1|p' "$work/prove.out")
        for t in ${failed:-ALL}; do
            [ "$t" = ALL ] && t='*'
            for f in "$work"/tmp_check/log/regress_log_$t; do
                [ -f "$f" ] || continue
                echo "=== $f (last 80 lines)"
                tail -n 80 "$f"
            done
            [ -n "$failed" ] || continue
            for f in "$work"/tmp_check/log/"${t}"_*.log; do
                [ -f "$f" ] || continue
                echo "=== $f (last 40 lines)"
                tail -n 40 "$f"
            done
        done
    fi
fi

if [ $status -eq 0 ]; then
    echo "all tests passed"
else
    echo "TESTS FAILED"
fi
exit $status
