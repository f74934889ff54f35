#!/bin/sh
# Builds the Debian package the ordinary way (dpkg-buildpackage -us -uc -b, debian/rules
# calling make), into OUT_DIR (default .build/deb) rather than the parent directory, then
# runs lintian on it. Prints lintian's output, the package's Installed-Size and its path on the
# last line. Exits non-zero when the build fails or lintian reports an error.
#   scripts/build-deb.sh [OUT_DIR]
set -eu
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-.build/deb}" && cd "${1:-.build/deb}" && pwd)
rm -f "$out"/livepatchd_*

version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -q DEB_HOST_ARCH)
log=$out/dpkg-buildpackage.log
started=$(date +%s)
if ! LIVEPATCHD_DEB_DIR=$out dpkg-buildpackage -us -uc -b \
    --buildinfo-option=-u"$out" --buildinfo-file="$out/livepatchd_${version}_$arch.buildinfo" \
    --changes-option=-u"$out" --changes-file="$out/livepatchd_${version}_$arch.changes" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "build-deb: dpkg-buildpackage failed (last lines above, all in $log)" >&2
    exit 1
fi
deb=$out/livepatchd_${version}_$arch.deb
echo "build-deb: built $(basename "$deb") in $(($(date +%s) - started)) s"

# lintian exits non-zero on errors only (its default --fail-on=error).
lintian_ok=0
lintian --info --display-info "$out/livepatchd_${version}_$arch.changes" >"$out/lintian.txt" 2>&1 || lintian_ok=1
echo "lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings"
sed 's/^/  /' "$out/lintian.txt"
echo "Installed-Size: $(dpkg-deb -f "$deb" Installed-Size) KiB; .deb $(($(stat -c %s "$deb") / 1024)) KiB"
echo "$deb"
[ "$lintian_ok" -eq 0 ]
