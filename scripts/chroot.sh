#!/usr/bin/env bash
# Makes, once, a Debian chroot with PostgreSQL of the given major version
# and what building and testing pg_stat_monitor need, and mounts what a
# server needs in it.  Prints the chroot's directory.  Run as root.
#
#   bash scripts/chroot.sh 15     Debian 12 (bookworm), PostgreSQL 15
#   bash scripts/chroot.sh 17     Debian 13 (trixie), PostgreSQL 17
#   bash scripts/chroot.sh 18     Debian unstable (sid), PostgreSQL 18
#
# The chroots are kept in /var/cache/pgsm-chroots (PGSM_CHROOT_CACHE=DIR
# puts them elsewhere) and reused by later runs.
# PGSM_LANE=NAME gives a run a private copy of the chroot (made from the
# shared one), so that runs testing different builds at once never load
# each other's library.
set -euo pipefail

major=${1:?usage: chroot.sh MAJOR}
case $major in
    15) suite=bookworm ;;
    17) suite=trixie ;;
    18) suite=sid ;;
    *) echo "chroot.sh: no Debian release known for PostgreSQL $major" >&2; exit 2 ;;
esac

cache=${PGSM_CHROOT_CACHE:-/var/cache/pgsm-chroots}
root=$cache/$suite
mirror=${PGSM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# chromium renders the HTML report in test/t/090_report.pl
packages="postgresql-$major postgresql-server-dev-$major postgresql-contrib-$major
    make gcc libc6-dev libkrb5-dev libipc-run-perl perl util-linux procps
    chromium fonts-dejavu-core"

if [ ! -f "$root/.pgsm-ready" ]; then
    command -v debootstrap >/dev/null || {
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
    }
    mkdir -p "$cache"
    rm -rf "$root.tmp"
    echo "chroot.sh: making a $suite chroot for PostgreSQL $major (a few minutes, once)" >&2
    debootstrap --variant=minbase "$suite" "$root.tmp" "$mirror" >&2
    # no "main" cluster: the tests make their own
    mkdir -p "$root.tmp/etc/postgresql-common/createcluster.d"
    echo "create_main_cluster = false" >"$root.tmp/etc/postgresql-common/createcluster.d/pgsm.conf"
    # packages' scripts need /proc; sid's Release file may be older than
    # its validity allows; a chroot being made is thrown away if anything
    # fails, so dpkg need not sync every file
    mount -t proc proc "$root.tmp/proc"
    status=0
    chroot "$root.tmp" apt-get -o Acquire::Check-Valid-Until=false update -q >&2 &&
        chroot "$root.tmp" env DEBIAN_FRONTEND=noninteractive apt-get \
            -o Acquire::Check-Valid-Until=false -o Dpkg::Options::=--force-unsafe-io \
            install -y -q --no-install-recommends \
            $packages >&2 || status=$?
    umount "$root.tmp/proc"
    if [ $status -ne 0 ]; then
        echo "chroot.sh: could not install PostgreSQL $major in $root.tmp" >&2
        exit $status
    fi
    echo $packages >"$root.tmp/.pgsm-packages"
    touch "$root.tmp/.pgsm-ready"
    mv "$root.tmp" "$root"
fi

lane=${PGSM_LANE:-}
if [ -n "$lane" ]; then
    case $lane in *[!A-Za-z0-9_-]*) echo "chroot.sh: bad PGSM_LANE: $lane" >&2; exit 2 ;; esac
    if [ ! -f "$root-$lane/.pgsm-ready" ]; then
        rm -rf "$root-$lane.tmp"
        cp -a --one-file-system "$root" "$root-$lane.tmp"
        mv "$root-$lane.tmp" "$root-$lane"
    fi
    root=$root-$lane
fi

mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mkdir -p "$root/dev/shm"
mountpoint -q "$root/dev/shm" || mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"

# A chroot made before a package joined the list gets it now, once: the
# list last installed is kept in the chroot.  One run at a time installs
# into a given chroot.
(
    flock 9
    if [ "$(cat "$root/.pgsm-packages" 2>/dev/null)" != "$(echo $packages)" ]; then
        echo "chroot.sh: installing the packages of the list in $root" >&2
        chroot "$root" apt-get -o Acquire::Check-Valid-Until=false update -q >&2
        chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get \
            -o Acquire::Check-Valid-Until=false install -y -q --no-install-recommends \
            $packages >&2
        echo $packages >"$root/.pgsm-packages"
    fi
) 9>"$root.lock"
echo "$root"
