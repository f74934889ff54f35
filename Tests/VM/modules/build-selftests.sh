#!/bin/bash
# Builds modules no one here wrote: the kernel's own livepatch self-test modules
# (lib/livepatch/test_klp_state.c and test_klp_state2.c) from Debian's linux-source-6.1, out of
# tree against linux-headers-RELEASE, into OUT_DIR. Its tools/testing/selftests/livepatch/
# test-state.sh loads them in the order the VM tier follows.
# usage: build-selftests.sh RELEASE OUT_DIR
set -euo pipefail

release=${1:?usage: build-selftests.sh RELEASE OUT_DIR}
out=${2:?usage: build-selftests.sh RELEASE OUT_DIR}
headers=/usr/src/linux-headers-$release
source_tarball=/usr/src/linux-source-6.1.tar.xz
[[ -f $headers/Makefile ]] || { echo "build-selftests.sh: $headers missing (apt-get install linux-headers-$release)" >&2; exit 1; }
[[ -f $source_tarball ]] || { echo "build-selftests.sh: $source_tarball missing (apt-get install linux-source-6.1)" >&2; exit 1; }

modules="test_klp_state test_klp_state2"
work=$(mktemp -d /tmp/livepatchd-vm-selftests.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Only the two sources: unpacking the whole tree would take minutes and a gigabyte.
# shellcheck disable=SC2086
tar -xJf "$source_tarball" -C "$work" --strip-components=3 $(printf 'linux-source-6.1/lib/livepatch/%s.c ' $modules)
echo "obj-m += $(printf '%s.o ' $modules)" >"$work/Kbuild"
make -s -C "$headers" M="$work" -j"$(nproc)" modules >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }

mkdir -p "$out"
for module in $modules; do cp "$work/$module.ko" "$out/"; done
