#!/bin/sh
# Builds everything and runs every test: unit tests, and integration tests that start the real
# livepatchd, lpclient and lpbundle binaries on the simulated kernel in temporary directories.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
LIVEPATCHD_VARLINK_PYTHON=$(scripts/varlink-venv.sh)
export LIVEPATCHD_VARLINK_PYTHON

swift build --build-tests
swift test --skip-build
