#!/bin/bash
# Builds the VM tier's test modules against linux-headers-RELEASE into OUT_DIR (those of
# unresolved/ in a build of their own, which lets modpost pass an unresolved symbol).
# usage: build.sh RELEASE OUT_DIR
# lp_seq.c is built twice (LP_SEQ_BUILD=5 and 3) into lp_seq-v5.ko and lp_seq-v3.ko.
# lp_badmagic.ko and lp_otherkernel.ko then get another kernel release in their vermagic
# (same length, so the .modinfo layout is unchanged); with CONFIG_MODVERSIONS the kernel
# would still load them.
set -euo pipefail

release=${1:?usage: build.sh RELEASE OUT_DIR}
out=${2:?usage: build.sh RELEASE OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
headers=/usr/src/linux-headers-$release
[[ -f $headers/Makefile ]] || { echo "build.sh: $headers missing (apt-get install linux-headers-$release)" >&2; exit 1; }

work=$(mktemp -d /tmp/livepatchd-vm-modules.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$here"/Kbuild "$here"/*.c "$work"/
cp -r "$here"/unresolved "$work"/
for directory in "$work" "$work/unresolved"; do
    make -s -C "$headers" M="$directory" -j"$(nproc)" modules >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done
cp "$work"/unresolved/*.ko "$work"/
# lp_seq twice: one module name, two builds (its module version and /proc/loadavg name the build),
# for the bundles with --sequence 5 and --sequence 3.
for build in 5 3; do
    mkdir "$work/seq$build"
    cp "$here/lp_seq.c" "$work/seq$build/"
    printf 'obj-m += lp_seq.o\nccflags-y += -DLP_SEQ_BUILD=%s\n' "$build" >"$work/seq$build/Kbuild"
    make -s -C "$headers" M="$work/seq$build" -j"$(nproc)" modules >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
    cp "$work/seq$build/lp_seq.ko" "$work/lp_seq-v$build.ko"
done

# A release that differs from the real one only in its ABI number, same length.
abi=${release#*.*.*-}; abi=${abi%%-*}
other=${release/-$abi-/-$(printf '%0*d' "${#abi}" $(( (10#$abi + 1) % 10**${#abi} )))-}
for module in lp_badmagic lp_otherkernel; do
    objcopy --dump-section .modinfo="$work/modinfo" "$work/$module.ko"
    sed -i "s/vermagic=$release /vermagic=$other /" "$work/modinfo"
    grep -q "vermagic=$other " "$work/modinfo" || { echo "build.sh: cannot rewrite the vermagic of $module" >&2; exit 1; }
    objcopy --update-section .modinfo="$work/modinfo" "$work/$module.ko"
done

mkdir -p "$out"
cp "$work"/*.ko "$out"/
echo "$other" >"$out/badmagic-release"
