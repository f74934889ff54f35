#!/bin/sh
# Installs the Debian packages the build, the demo and the tests need, and nothing when they are
# all there already. Run by scripts/demo.sh and scripts/test.sh; safe to run again.
#   libsystemd-dev, libkmod-dev, pkg-config  the C libraries the daemon links (system-library targets)
#   gcc, kmod                               test modules are compiled ELF objects; modinfo(8) to look at them
#   systemd                                 a real systemd-journald for the journal tests
#   util-linux                              setpriv (tests run clients as nobody), unshare
#   python3, python3-venv                   the PyPI varlink client, a generic Varlink client for the tests
set -eu

packages="libsystemd-dev libkmod-dev pkg-config gcc libc6-dev kmod systemd util-linux python3 python3-venv"
missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done

if [ -n "$missing" ]; then
    echo "installing:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "swift is not on PATH: install the Swift 6 toolchain (https://swift.org/install) and run this again" >&2
    exit 1
fi
