#!/bin/sh
# Builds everything and runs every test: unit tests, and integration tests that start the real
# livepatchd, lpclient and lpbundle binaries on the simulated kernel in temporary directories.
# Ends with one line `tests: N passed, N failed, N skipped`.
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
[ "$status" -eq 0 ] && [ "$total" -gt 0 ]
