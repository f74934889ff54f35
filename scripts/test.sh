#!/bin/sh
# Runs every test tier:
#   1. swift test: unit tests, and integration tests that start the real livepatchd, lpclient
#      and lpbundle binaries on the simulated kernel in temporary directories; ends with a line
#      `tests: N passed, N failed, N skipped`;
#   2. a fuzz smoke run (scripts/fuzz.sh): each libFuzzer target for LIVEPATCHD_FUZZ_TIME seconds
#      (default 20; 0 leaves it out, and says so); prints `fuzz TARGET: N execs, N crashes, T s`
#      and the build and run times;
#   3. the real-kernel tier (Tests/VM/run.sh): Debian's 6.1 kernel under qemu with systemd as
#      PID 1 and real livepatch modules; ends with `N passed, N failed`. It needs root (apt,
#      debootstrap); LIVEPATCHD_SKIP_VM=1 leaves it out, and says so.
# Exits non-zero when any tier fails.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
LIVEPATCHD_VARLINK_PYTHON=$(scripts/varlink-venv.sh)
export LIVEPATCHD_VARLINK_PYTHON

swift build --build-tests

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
# POSIX sh has no pipefail: keep swift test's exit status in a file.
{ swift test --skip-build 2>&1; echo $? > "$work/status"; } | tee "$work/log"
status=$(cat "$work/status")

# Swift Testing's own counts: every test once, skipped ones marked with ➜.
total=$(sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\} in .*/\1/p' "$work/log" | tail -n 1)
failed=$(grep -c '^✘ Test ".* failed after' "$work/log" || true)
skipped=$(grep -c '^➜ Test .* skipped' "$work/log" || true)
total=${total:-0}
echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
swift_ok=0
[ "$status" -eq 0 ] && [ "$total" -gt 0 ] || swift_ok=1

fuzz_ok=0
fuzz_time=${LIVEPATCHD_FUZZ_TIME:-20}
if [ "$fuzz_time" = 0 ]; then
    echo "fuzz smoke: not run (LIVEPATCHD_FUZZ_TIME=0)"
else
    scripts/fuzz.sh --time "$fuzz_time" || fuzz_ok=1
fi

vm_ok=0
if [ "${LIVEPATCHD_SKIP_VM:-0}" = 1 ]; then
    echo "real-kernel tier: not run (LIVEPATCHD_SKIP_VM=1)"
elif [ "$(id -u)" -ne 0 ]; then
    echo "real-kernel tier: not run (needs root: sudo scripts/test.sh, or sudo Tests/VM/run.sh)"
    vm_ok=1
else
    Tests/VM/run.sh || vm_ok=1
fi

[ "$swift_ok" -eq 0 ] && [ "$fuzz_ok" -eq 0 ] && [ "$vm_ok" -eq 0 ]
