#!/usr/bin/env bash
# Copies the project's sources from $1 into the directory $2: the files git
# knows (tracked, or new and not ignored) in a checkout, and otherwise (a
# release tarball, or no git on the machine) the whole tree less what
# builds and tests leave behind.
set -euo pipefail

src=$1
dst=$2

if command -v git >/dev/null 2>&1 &&
    git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files -co --exclude-standard -z |
        (cd "$src" && xargs -0 cp --parents -t "$dst")
else
    tar -C "$src" --exclude=./.git --exclude=./test/results \
        --exclude=./test/tmp_check --exclude=./tmp_check --exclude=./results \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . |
        tar -C "$dst" -xf -
fi
