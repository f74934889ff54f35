#!/bin/bash
# Prepares the VM tier: installs what it needs with apt-get and builds (once, cached) a
# Debian bookworm rootfs with systemd as a gzip cpio initramfs for the Debian 6.1 kernel.
# Idempotent; a second run with nothing to do takes well under a second.
#
# Writes $LIVEPATCHD_VM_CACHE/current.env (default /var/cache/livepatchd/vm), which run.sh
# sources: VM_KERNEL_RELEASE, VM_KERNEL_IMAGE, VM_ROOTFS.
#
# LIVEPATCHD_VM_KERNEL=6.1.0-N-amd64 picks a kernel; the default is the newest installed
# one with its headers, else the newest the mirror offers. Needs root (apt, debootstrap).
# `setup.sh --list-packages` prints the host packages it installs besides the kernel's
# linux-image-6.1.0-N-amd64 and linux-headers-6.1.0-N-amd64.
#
# Any failure says which step failed and what to do (scripts/lib/failure-report.bash).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib/failure-report.bash
source "$here/../../scripts/lib/failure-report.bash"
failure_report_init setup.sh

cache=${LIVEPATCHD_VM_CACHE:-/var/cache/livepatchd/vm}
suite=bookworm
# systemd-sysv gives /sbin/init; procps gives /bin/kill, which the unit's ExecReload runs (on
# Debian it is Priority: important, so every real host has it; minbase does not); jq lets the
# scenario runner check lpclient --json replies; man-db (with groff-base) makes `man lpclient`
# work once the package is installed.
rootfs_packages=systemd,systemd-sysv,kmod,procps,jq,man-db
# On the host: qemu and the initramfs tools; gcc, make, binutils (objcopy, strip) and kmod to
# build the test modules against the kernel's headers; linux-source-6.1 (with xz-utils) for the
# kernel's own livepatch self-test modules; xxd and openssl to sign a manifest lpbundle refuses
# to make (run.sh).
host_packages="qemu-system-x86 debootstrap cpio gzip gcc make binutils kmod linux-source-6.1 xz-utils xxd openssl"
# The commands run.sh and modules/build*.sh use from those packages.
host_commands="qemu-system-x86_64 debootstrap cpio gzip gcc make objcopy strip xz xxd openssl"

if [[ ${1:-} == --list-packages ]]; then
    echo "$host_packages"
    exit 0
fi

log() { echo "setup.sh: $*" >&2; }

[[ $(id -u) -eq 0 ]] || { log "must run as root (apt-get, debootstrap, reading /boot/vmlinuz-*): sudo $0"; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# The newest 6.1 release whose image and headers are both installed; nothing when there is none
# (a new machine), so that the caller falls back to the mirror.
newest_installed_kernel() {
    local listing release
    # dpkg-query exits 1 when no package matches the pattern: that means none installed.
    listing=$(dpkg-query -W -f='${Package} ${Status}\n' 'linux-headers-6.1.0-*-amd64' 2>/dev/null) || return 0
    awk '/install ok installed/ { sub("linux-headers-", "", $1); print $1 }' <<<"$listing" | sort -V |
        while read -r release; do
            if installed "linux-image-$release"; then echo "$release"; fi
        done | tail -1
}

newest_available_kernel() {
    apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
        awk '{ sub("linux-image-", "", $1); print $1 }' | sort -V | tail -1
}

apt_update() {
    step "updating the apt package lists" "check /etc/apt/sources.list.d and the network to the Debian mirror, then run Tests/VM/setup.sh again"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt_updated=1
}

apt_install() {
    local missing=() package
    for package in "$@"; do installed "$package" || missing+=("$package"); done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    [[ -n ${apt_updated:-} ]] || apt_update
    step "installing ${missing[*]}" "apt-get's error is above; once 'apt-get install ${missing[*]}' works by hand, run Tests/VM/setup.sh again"
    # INITRD=No: the kernel is booted with our own initramfs, so skip update-initramfs (~1 min).
    DEBIAN_FRONTEND=noninteractive INITRD=No apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian mirror apt already uses (deb822 or one-line format): debootstrap uses the same.
debian_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')
    [[ -n $uri ]] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')
    echo "${uri:-http://deb.debian.org/debian}"
}

# Runs inside the debootstrapped tree (chroot), before it is packed. Part of the cache key.
customize_rootfs() {
    echo livepatchd-vm >/etc/hostname
    printf '127.0.0.1 localhost livepatchd-vm\n' >/etc/hosts
    : >/etc/fstab
    passwd -d root >/dev/null
    # Nothing that wakes up by itself during the scenarios. Without udev no device unit ever
    # appears, so a getty on the serial console would hold up boot for 90 s waiting for one.
    systemctl mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
        systemd-tmpfiles-clean.timer getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1 || true
    # Keep the initramfs small: it is unpacked into RAM at every boot.
    rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* \
        /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/lib/apt/lists/* /var/cache/debconf/*-old
}

step "choosing the kernel" "set LIVEPATCHD_VM_KERNEL=6.1.0-N-amd64 to a release the mirror has"
kernel=${LIVEPATCHD_VM_KERNEL:-$(newest_installed_kernel)}
if [[ -z $kernel ]]; then
    apt_update
    step "choosing the kernel" "set LIVEPATCHD_VM_KERNEL=6.1.0-N-amd64 to a release the mirror has"
    kernel=$(newest_available_kernel)
    [[ -n $kernel ]] || {
        log "no linux-image-6.1.0-*-amd64 in the apt sources: the tier needs Debian 12's bookworm main (and bookworm-updates or security for the newest ABI)"
        exit 1
    }
    log "no 6.1 kernel with headers installed yet: using $kernel from the mirror"
fi
# shellcheck disable=SC2086
apt_install $host_packages "linux-image-$kernel" "linux-headers-$kernel"

step "checking the installed tools"
missing_tools=()
for tool in $host_commands; do command -v "$tool" >/dev/null || missing_tools+=("$tool"); done
((${#missing_tools[@]} == 0)) || {
    log "installed $host_packages, yet ${missing_tools[*]} not on PATH ($PATH): reinstall the package that ships it"
    exit 1
}
[[ -r /boot/vmlinuz-$kernel ]] || { log "/boot/vmlinuz-$kernel missing: apt-get install --reinstall linux-image-$kernel"; exit 1; }
[[ -f /usr/src/linux-source-6.1.tar.xz ]] || { log "/usr/src/linux-source-6.1.tar.xz missing: apt-get install --reinstall linux-source-6.1"; exit 1; }
[[ -f /usr/src/linux-headers-$kernel/Makefile ]] || {
    log "/usr/src/linux-headers-$kernel is incomplete: apt-get install --reinstall linux-headers-$kernel"
    exit 1
}

step "building the rootfs" "see the error above; rm -rf $cache and run Tests/VM/setup.sh again"
mirror=$(debian_mirror)
key=$( { echo "$suite $rootfs_packages $mirror"; declare -f customize_rootfs; } | sha256sum | cut -c1-16)
rootfs=$cache/rootfs-$key.cpio.gz
mkdir -p "$cache/debs"
if [[ ! -s $rootfs ]]; then
    log "building the $suite rootfs ($rootfs) from $mirror"
    started=$SECONDS
    tree=$(mktemp -d "$cache/tree.XXXXXX")
    trap 'rm -rf "$tree"' EXIT
    debootstrap --variant=minbase --include="$rootfs_packages" --cache-dir="$cache/debs" \
        "$suite" "$tree" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
        {
            tail -20 "$cache/debootstrap.log" >&2
            log "debootstrap $suite from $mirror failed (last lines above, all in $cache/debootstrap.log): check that the mirror serves $suite, then run Tests/VM/setup.sh again"
            exit 1
        }
    chroot "$tree" /bin/bash -c "$(declare -f customize_rootfs); customize_rootfs"
    (cd "$tree" && find . -mount | LC_ALL=C sort | cpio --quiet -o -H newc | gzip -1) >"$rootfs.tmp"
    mv "$rootfs.tmp" "$rootfs"
    rm -rf "$tree"
    trap - EXIT
    # Older rootfs images are no longer referenced.
    find "$cache" -maxdepth 1 -name 'rootfs-*.cpio.gz' ! -name "rootfs-$key.cpio.gz" -delete
    log "rootfs built in $((SECONDS - started)) s ($(du -h "$rootfs" | cut -f1))"
fi

step "writing $cache/current.env"
cat >"$cache/current.env.tmp" <<EOF
VM_KERNEL_RELEASE=$kernel
VM_KERNEL_IMAGE=/boot/vmlinuz-$kernel
VM_ROOTFS=$rootfs
EOF
mv "$cache/current.env.tmp" "$cache/current.env"
