#!/usr/bin/env bash
# Installs what building and testing pg_stat_monitor needs on Debian 12:
# the PostgreSQL 15 server and headers, the TAP test modules, debootstrap
# (for the chroots of 17 and 18), Chromium (the report test renders the
# HTML report), and the tools the benchmarks use.  Safe to run again; does
# nothing when all is there.
set -euo pipefail

packages=(
    postgresql-15 postgresql-server-dev-15 postgresql-contrib libpq-dev
    libkrb5-dev build-essential libipc-run-perl
    debootstrap chromium fonts-dejavu-core
    valgrind strace
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing: ${missing[*]}"
$sudo apt-get update -q
# Debian's postgresql-common creates a "main" cluster on install; we use our own.
$sudo mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/pgsm-no-main.conf >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
