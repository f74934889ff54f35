#!/bin/sh
# Prints the path of a Python that has the PyPI `varlink` package (a generic Varlink client the
# tests use to prove the socket speaks plain Varlink), creating the venv once under /var/cache.
set -eu
venv=${LIVEPATCHD_CACHE:-/var/cache/livepatchd}/varlink-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import varlink" 2>/dev/null; then
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet "varlink==31.0.0" >&2
fi
echo "$venv/bin/python"
