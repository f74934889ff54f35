#!/bin/sh
# Installs the Debian packages the build, the demo and the tests need, and nothing when they are
# all there already. Run by scripts/demo.sh and scripts/test.sh; safe to run again.
#   libsystemd-dev, libkmod-dev, pkg-config  the C libraries the daemon links (system-library targets)
#   gcc, kmod                               test modules are compiled ELF objects; modinfo(8) to look at them
#   systemd                                 a real systemd-journald for the journal tests
#   util-linux                              setpriv (tests run clients as nobody), unshare
#   python3, python3-venv                   the PyPI varlink client, a generic Varlink client for the tests
#   prometheus-node-exporter                the metrics test reads livepatchd's series back through it
#   dpkg-dev, debhelper, lintian            the Debian package (dpkg-buildpackage -us -uc -b) and its check
#   gdb                                     a daemon that stops answering in a test has its threads' stacks reported
set -eu

packages="libsystemd-dev libkmod-dev pkg-config gcc libc6-dev kmod systemd util-linux python3 python3-venv prometheus-node-exporter dpkg-dev debhelper lintian gdb"
if [ "${1-}" = --list ]; then
    echo "$packages"
    exit 0
fi

missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done

if [ -n "$missing" ]; then
    echo "installing:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq; then
        echo "install-deps: apt-get update failed (see above): check /etc/apt/sources.list.d and the network to the Debian mirror, then run scripts/install-deps.sh again" >&2
        exit 1
    fi
    # shellcheck disable=SC2086
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null; then
        echo "install-deps: installing$missing failed (apt-get's error is above); fix that and run scripts/install-deps.sh again" >&2
        exit 1
    fi
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "swift is not on PATH: install the Swift 6 toolchain (https://swift.org/install) and run this again" >&2
    exit 1
fi
