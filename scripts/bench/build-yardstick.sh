#!/bin/sh
# Builds one of the minimal Swift programs the binaries are timed against (issue 12) the way the
# binaries are linked: the Swift runtime static, full RELRO. bench.sh builds them for the host
# rows, Tests/VM/run.sh builds yardstick-json for the guest's `lpclient status` row.
#
#   scripts/bench/build-yardstick.sh NAME OUT MODULE_CACHE_DIR   (NAME: yardstick-json, yardstick-stdlib)
set -eu
name=${1:?NAME (yardstick-json or yardstick-stdlib)} out=${2:?OUT path} cache=${3:?MODULE_CACHE_DIR}
source=$(dirname "$0")/$name.swift
[ -f "$source" ] || { echo "build-yardstick.sh: no $source" >&2; exit 2; }
mkdir -p "$cache"
# The linker warns about mktemp in FoundationEssentials: its output is shown only when the build fails.
swiftc -O -static-stdlib -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now -module-cache-path "$cache" \
    -o "$out" "$source" >"$cache/swiftc.log" 2>&1 || { cat "$cache/swiftc.log" >&2; exit 1; }
