#!/bin/sh
# `make bench`: every row of issue 12's table as a ratio against its yardstick measured in the
# same run (scripts/bench/bench.py), then what each dependency weighs in the binaries
# (scripts/bench/binary-weights.py). Builds the release binaries the way the package does,
# the C yardstick server and load generator, and two minimal static Swift programs.
# Results go to .build/bench/results.json; a row more than 20 % worse than the previous run
# (or than scripts/bench/baseline.json on a clean clone) is flagged REGRESSION.
#
#   scripts/bench.sh [--bin DIR] [bench.py options: --bundles N, --idle-seconds S,
#                     --vm-report FILE, --baseline FILE, --only status,varlink,...]
#
# --bin measures other binaries (e.g. an older commit's) with this checkout's bench.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
command -v hyperfine >/dev/null 2>&1 || {
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq hyperfine >/dev/null
}

# The package's flags (Makefile RELEASE_FLAGS), so the numbers are those of what ships.
flags=${LIVEPATCHD_RELEASE_FLAGS:-$(make --no-print-directory -s release-flags)}
bin=""
if [ "${1-}" = --bin ]; then
    bin=$(cd "$2" && pwd)
    shift 2
else
    # shellcheck disable=SC2086
    swift build $flags
    # shellcheck disable=SC2086
    bin=$(swift build $flags --show-bin-path)
fi

out=.build/bench
tools=$out/tools
mkdir -p "$tools"
for tool in nul-server varlink-load; do
    [ "$tools/$tool" -nt "scripts/bench/$tool.c" ] ||
        gcc -O2 -Wall -Wextra -Werror -o "$tools/$tool" "scripts/bench/$tool.c"
done
for yardstick in yardstick-json yardstick-stdlib; do
    [ "$tools/$yardstick" -nt "scripts/bench/$yardstick.swift" ] ||
        scripts/bench/build-yardstick.sh "$yardstick" "$tools/$yardstick" "$out/module-cache"
done

python3 scripts/bench/bench.py --bin "$bin" --tools "$tools" --out "$out" "$@"
echo
echo "What each dependency weighs (symbols attributed to the archive or target defining them):"
python3 scripts/bench/binary-weights.py "$bin" "$bin/lpclient" "$bin/lpbundle" "$bin/livepatchd" --json "$out/weights.json"
