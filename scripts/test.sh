#!/bin/sh
# Runs every test tier:
#   1. swift test: unit tests, and integration tests that start the real livepatchd, lpclient
#      and lpbundle binaries on the simulated kernel in temporary directories; ends with a line
#      `tests: N passed, N failed, N skipped` and one line per failed and per skipped test with
#      the reason (scripts/lib/test-summary.py). Under CI=true a test whose dependency this
#      script installs (journald, the PyPI varlink client) fails where it is missing;
#   2. a fuzz smoke run (scripts/fuzz.sh): each libFuzzer target for LIVEPATCHD_FUZZ_TIME seconds
#      (default 20; 0 leaves it out, and says so); prints `fuzz TARGET: N execs, N crashes, T s`
#      and the build and run times;
#   3. the real-kernel tier (Tests/VM/run.sh): Debian's 6.1 kernel under qemu with systemd as
#      PID 1 and real livepatch modules; ends with `N passed, N failed`. It needs root (apt,
#      debootstrap); LIVEPATCHD_SKIP_VM=1 leaves it out, and says so.
# Exits non-zero when any tier fails; a set-up step that fails says what failed and what to do.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh || { echo "test.sh: installing the build and test dependencies failed (above)" >&2; exit 1; }
LIVEPATCHD_VARLINK_PYTHON=$(scripts/varlink-venv.sh) || {
    echo "test.sh: making the PyPI varlink venv failed (above): python3 -m venv and pip must work; run scripts/varlink-venv.sh again" >&2
    exit 1
}
export LIVEPATCHD_VARLINK_PYTHON

swift build --build-tests || { echo "test.sh: swift build --build-tests failed (the errors are above)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
# The closing lines come from Swift Testing's event stream, which counts what the console output
# cannot: tests failed before they started, and not the output of child test processes.
swift_ok=0
# Two runs, one after the other: the integration scenarios block threads while they wait for the
# real binaries, and the unit tests' in-process servers need the same few cooperative threads (as
# many as cores): in one process they starved each other (control socket tests timing out).
for group in unit integration; do
    if [ "$group" = unit ]; then selection="--skip IntegrationTests"; else selection="--filter IntegrationTests"; fi
    # `|| status=$?`: under set -e a failing swift test would end the subshell before the echo.
    # shellcheck disable=SC2086
    { status=0
      swift test --skip-build $selection --event-stream-output-path "$work/events-$group.jsonl" --event-stream-version 0 2>&1 ||
          status=$?
      echo "$status" >"$work/status-$group"; } | tee -a "$work/console.log"
    [ "$(cat "$work/status-$group")" = 0 ] || {
        swift_ok=1
        echo "swift test ($group group) exited $(cat "$work/status-$group")" >>"$work/exits.txt"
    }
done
cat "$work/events-unit.jsonl" "$work/events-integration.jsonl" >"$work/events.jsonl"
python3 scripts/lib/test-summary.py "$work/events.jsonl" >"$work/summary.txt" || swift_ok=1
cat "$work/summary.txt"
# A group whose process failed with no test failing (a crash at exit) is named in the recap below.
[ ! -f "$work/exits.txt" ] || cat "$work/exits.txt" >>"$work/summary.txt"
# The fleet simulation's tables, with the closing lines (Tests/IntegrationTests/FleetSimulationTests.swift).
sed -n '/^fleet simulation: /,/^  good patch at 100 %/p' "$work/console.log"

fuzz_ok=0
fuzz_time=${LIVEPATCHD_FUZZ_TIME:-20}
if [ "$fuzz_time" = 0 ]; then
    echo "fuzz smoke: not run (LIVEPATCHD_FUZZ_TIME=0)"
else
    { status=0
      scripts/fuzz.sh --time "$fuzz_time" 2>&1 || status=$?
      echo "$status" >"$work/status-fuzz"; } | tee "$work/fuzz.txt"
    [ "$(cat "$work/status-fuzz")" = 0 ] || fuzz_ok=1
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

# The real-kernel tier prints hundreds of lines after the swift tests and the fuzz run: a failure of
# theirs is said again at the end, where a reader of the log's tail (or CI's excerpt) looks.
if [ "$swift_ok" -ne 0 ] || [ "$fuzz_ok" -ne 0 ]; then
    echo "test.sh: failed before the real-kernel tier, again from above:"
    [ "$swift_ok" -eq 0 ] || sed 's/^/  /' "$work/summary.txt"
    [ "$fuzz_ok" -eq 0 ] || sed 's/^/  /' "$work/fuzz.txt"
fi
[ "$swift_ok" -eq 0 ] && [ "$fuzz_ok" -eq 0 ] && [ "$vm_ok" -eq 0 ]
