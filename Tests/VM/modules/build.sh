#!/bin/bash
# Builds the VM tier's test modules against linux-headers-RELEASE into OUT_DIR.
# usage: build.sh RELEASE OUT_DIR
# lp_badmagic.ko then gets another kernel release in its vermagic (same length, so the
# .modinfo layout is unchanged): the kernel's CONFIG_MODVERSIONS check would still load it.
set -euo pipefail

release=${1:?usage: build.sh RELEASE OUT_DIR}
out=${2:?usage: build.sh RELEASE OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
headers=/usr/src/linux-headers-$release
[[ -f $headers/Makefile ]] || { echo "build.sh: $headers missing (apt-get install linux-headers-$release)" >&2; exit 1; }

work=$(mktemp -d /tmp/livepatchd-vm-modules.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$here"/Kbuild "$here"/*.c "$work"/
make -s -C "$headers" M="$work" -j"$(nproc)" modules >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }

# A release that differs from the real one only in its ABI number, same length.
abi=${release#*.*.*-}; abi=${abi%%-*}
other=${release/-$abi-/-$(printf '%0*d' "${#abi}" $(( (10#$abi + 1) % 10**${#abi} )))-}
objcopy --dump-section .modinfo="$work/modinfo" "$work/lp_badmagic.ko"
sed -i "s/vermagic=$release /vermagic=$other /" "$work/modinfo"
grep -q "vermagic=$other " "$work/modinfo" || { echo "build.sh: cannot rewrite vermagic" >&2; exit 1; }
objcopy --update-section .modinfo="$work/modinfo" "$work/lp_badmagic.ko"

mkdir -p "$out"
cp "$work"/*.ko "$out"/
echo "$other" >"$out/badmagic-release"
