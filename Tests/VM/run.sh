#!/bin/bash
# The VM tier: the kernel backend on a real Debian 6.1 kernel, systemd as PID 1, under
# qemu TCG. Boots three times: the scenarios of guest/boot1.sh, then a reboot with the state
# directory boot 1 ended with (guest/boot2.sh), then the same state with livepatchd.apply=off
# on the kernel command line (guest/boot3.sh). Prints per-scenario results and timings and
# ends with "N passed, N failed"; exits 1 when anything failed or a boot did not finish.
#
# Environment:
#   LIVEPATCHD_VM_DEB       install this livepatchd .deb instead of building one
#   LIVEPATCHD_VM_KEEP=1    keep the work directory (console logs, results, initramfs)
#   LIVEPATCHD_VM_CACHE     cache directory (default /var/cache/livepatchd/vm)
# Needs root (setup.sh installs packages; the kernel image in /boot is root's to read).
# When the tier cannot get as far as booting, it says which step failed and what to do, and
# still ends with its "N passed, N failed" line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/lib/failure-report.bash
source "$repo/scripts/lib/failure-report.bash"
failure_report_init run.sh
cache=${LIVEPATCHD_VM_CACHE:-/var/cache/livepatchd/vm}
# Only a hung boot meets these: boot 1 takes about 450 s, 540 s was seen on a loaded host.
boot1_deadline=${LIVEPATCHD_VM_BOOT1_TIMEOUT:-900}
boot2_deadline=${LIVEPATCHD_VM_BOOT2_TIMEOUT:-240}
boot3_deadline=${LIVEPATCHD_VM_BOOT3_TIMEOUT:-240}
tier_started=$SECONDS

log() { echo "vm: $*" >&2; }

work=""
summarized=0
finish() {
    local status=$?
    if ((status != 0 && !summarized)); then
        echo "VM tier: stopped before the scenarios ran, while $failure_report_step (the cause is above)"
        echo "0 passed, 1 failed"
    fi
    [[ -z $work || ${LIVEPATCHD_VM_KEEP:-} == 1 ]] || rm -rf "$work"
}
trap finish EXIT

step "setting up the host (Tests/VM/setup.sh)" "fix what setup.sh reported above and run Tests/VM/run.sh again"
"$here/setup.sh"
# shellcheck source=/dev/null
source "$cache/current.env"

work=$(mktemp -d /tmp/livepatchd-vm.XXXXXX)

# --- the Debian package: built the ordinary way (scripts/build-deb.sh: dpkg-buildpackage, then
# lintian); boot 1 installs it with dpkg -i, boot 2 boots a disk that holds its files.
deb=${LIVEPATCHD_VM_DEB:-}
if [[ -z $deb ]]; then
    step "building the Debian package (scripts/build-deb.sh)" "dpkg-buildpackage or lintian failed (above); scripts/build-deb.sh alone shows the same"
    started=$SECONDS
    "$repo/scripts/build-deb.sh" "$work/deb" >"$work/build-deb.log" 2>&1 || { cat "$work/build-deb.log" >&2; exit 1; }
    deb=$(tail -1 "$work/build-deb.log")
    log "Debian package built in $((SECONDS - started)) s: $(basename "$deb")"
    grep -E '^lintian:|^Installed-Size' "$work/build-deb.log" | sed 's/^/vm: /' >&2
fi
[[ -f $deb ]] || { log "no package at '$deb': LIVEPATCHD_VM_DEB must name a livepatchd .deb"; exit 1; }
package=$work/package
dpkg-deb -x "$deb" "$package"

# What the guest times `lpclient status` against (issue 12): the least a static Swift program does to
# print JSON, linked as lpclient is and stripped as dh_strip strips it.
yardstick_key=$( { swiftc --version 2>&1; cat "$repo/scripts/bench/yardstick-json.swift"; } | sha256sum | cut -c1-16)
yardstick=$cache/yardstick-json-$yardstick_key
if [[ ! -x $yardstick ]]; then
    step "building the status yardstick (scripts/bench/build-yardstick.sh)" "swiftc's error is above"
    "$repo/scripts/bench/build-yardstick.sh" yardstick-json "$yardstick.tmp" "$work/module-cache"
    strip "$yardstick.tmp" && mv "$yardstick.tmp" "$yardstick"
    find "$cache" -maxdepth 1 -name 'yardstick-json-*' ! -name "yardstick-json-$yardstick_key" -delete
fi
# And make bench's C Varlink client, which times the daemon's GetStatus answer alone in the guest
# (the guest is Debian 12 too: the host's gcc links against the same glibc).
gcc -O2 -Wall -Wextra -Werror -o "$work/varlink-load" "$repo/scripts/bench/varlink-load.c" ||
    { log "building scripts/bench/varlink-load.c failed (gcc's error is above)"; exit 1; }

# --- test modules, cached per kernel release and module sources.
modules_key=$( { echo "$VM_KERNEL_RELEASE"; cd "$here/modules" && find Kbuild build.sh ./*.c unresolved -type f | LC_ALL=C sort | xargs cat; } |
    sha256sum | cut -c1-16)
modules=$cache/modules-$modules_key
if [[ ! -f $modules/lp_cmdline.ko ]]; then
    step "building the test modules against linux-headers-$VM_KERNEL_RELEASE" "modules/build.sh's error is above; it needs gcc, make and linux-headers-$VM_KERNEL_RELEASE (setup.sh installs them)"
    started=$SECONDS
    "$here/modules/build.sh" "$VM_KERNEL_RELEASE" "$modules.tmp"
    rm -rf "$modules" && mv "$modules.tmp" "$modules"
    find "$cache" -maxdepth 1 -name 'modules-*' ! -name "modules-$modules_key" -exec rm -rf {} +
    log "test modules built in $((SECONDS - started)) s"
fi

# --- the kernel's own self-test modules, cached per kernel release, linux-source version and script.
step "reading the linux-source-6.1 version" "dpkg-query found no linux-source-6.1: Tests/VM/setup.sh installs it"
source_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
selftests_key=$( { echo "$VM_KERNEL_RELEASE $source_version"; cat "$here/modules/build-selftests.sh"; } | sha256sum | cut -c1-16)
selftests=$cache/selftests-$selftests_key
if [[ ! -f $selftests/test_klp_state2.ko ]]; then
    step "building the kernel's self-test modules from linux-source-6.1 $source_version" "modules/build-selftests.sh's error is above; it needs linux-source-6.1, xz-utils and linux-headers-$VM_KERNEL_RELEASE (setup.sh installs them)"
    started=$SECONDS
    "$here/modules/build-selftests.sh" "$VM_KERNEL_RELEASE" "$selftests.tmp"
    rm -rf "$selftests" && mv "$selftests.tmp" "$selftests"
    find "$cache" -maxdepth 1 -name 'selftests-*' ! -name "selftests-$selftests_key" -exec rm -rf {} +
    log "self-test modules built in $((SECONDS - started)) s"
fi

# --- signed bundles, with a key made for this run.
step "making the signed test bundles" "the lpbundle, xxd or openssl error above says what is wrong"
lpbundle=$package/usr/bin/lpbundle
keys=$work/keys
"$lpbundle" keygen --name vm-tier --out "$keys" >/dev/null
bundles=$work/bundles
make_bundle() {  # NAME MODULE_PATH [lpbundle create options]; MODULE_PATH relative to $modules
    local name=$1 module=$2
    shift 2
    [[ $module == /* ]] || module=$modules/$module
    "$lpbundle" create "$module" --key "$keys/vm-tier.key" --version 1 \
        --description "VM tier test patch $name" --out "$bundles/$name" "$@" >/dev/null
}
make_bundle lp_cmdline lp_cmdline.ko --fixes CVE-0000-0001
make_bundle lp_uptime lp-uptime.ko
make_bundle lp_replace lp_replace.ko --replace
make_bundle lp_modobj lp_modobj.ko
make_bundle lp_stall lp_stall.ko
make_bundle lp_stack lp_stack.ko
make_bundle lp_otherkernel lp_otherkernel.ko  # for the release in its vermagic, not the VM's
make_bundle lp_nosym lp_nosym.ko
make_bundle lp_nofunc lp_nofunc.ko
# One name, two builds: the newer with sequence 5, an older one (sequence 3) replayed after it.
make_bundle lp_seq_v5 lp_seq-v5.ko --sequence 5
make_bundle lp_seq_v3 lp_seq-v3.ko --sequence 3
# Both cumulative (.replace = true in their klp_patch).
make_bundle test_klp_state "$selftests/test_klp_state.ko" --replace
make_bundle test_klp_state2 "$selftests/test_klp_state2.ko" --replace
# Claims the running kernel while the module's vermagic names another release.
make_bundle lp_badmagic lp_badmagic.ko --kernel "$VM_KERNEL_RELEASE" 2>/dev/null
# lpbundle refuses a module without livepatch=Y, so sign that manifest with openssl
# (Ed25519 over the manifest's exact bytes, like lpbundle; the key file holds the raw seed).
sign_manifest() {  # MANIFEST: writes MANIFEST.sig
    { printf '302e020100300506032b657004220420' | xxd -r -p; base64 -d <"$keys/vm-tier.key"; } |
        openssl pkey -inform DER -out "$work/signing.pem"
    openssl pkeyutl -sign -inkey "$work/signing.pem" -rawin -in "$1" | base64 -w0 >"$1.sig"
    echo >>"$1.sig"
}
mkdir -p "$bundles/lp_plain"
cp "$modules/lp_plain.ko" "$bundles/lp_plain/"
cat >"$bundles/lp_plain/lp_plain.json" <<EOF
{
  "format": 1,
  "name": "lp_plain",
  "version": "1",
  "module": "lp_plain.ko",
  "sha256": "$(sha256sum "$modules/lp_plain.ko" | cut -d' ' -f1)",
  "kernels": ["$VM_KERNEL_RELEASE"],
  "replace": false,
  "description": "VM tier test: not a livepatch module",
  "fixes": [],
  "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
sign_manifest "$bundles/lp_plain/lp_plain.json"
"$lpbundle" verify "$bundles/lp_plain/lp_plain.json" --keys "$keys" >/dev/null 2>&1 &&
    { log "lpbundle verify accepts a non-livepatch module"; exit 1; }

# --- initramfs: the cached rootfs, then (boot 2) the installed package, then this boot's overlay (the kernel
# unpacks concatenated cpio archives in order, later files winning; an overlay must not name
# /lib, /sbin or /bin, which are symlinks into /usr here and would be replaced).
step "packing the initramfs" "cpio or gzip failed (above): is /tmp full? (df -h /tmp)"
pack() { (cd "$1" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1) >"$2"; }

# Boot 2's disk holds what dpkg -i installed in boot 1: the package's files, laid down from the
# .deb, with the units enabled as its postinst enables them. (/lib is a symlink into /usr in
# the rootfs, so the units move to /usr/lib: an archive naming /lib would replace the link.)
installed=$work/installed
cp -a "$package" "$installed"
if [[ -d $installed/lib ]]; then
    mkdir -p "$installed/usr/lib"
    cp -a "$installed/lib/." "$installed/usr/lib/"
    rm -rf "$installed/lib"
fi
mkdir -p "$installed/etc/systemd/system/multi-user.target.wants" "$installed/etc/systemd/system/sockets.target.wants"
ln -s /lib/systemd/system/livepatchd.service "$installed/etc/systemd/system/multi-user.target.wants/livepatchd.service"
ln -s /lib/systemd/system/livepatchd.socket "$installed/etc/systemd/system/sockets.target.wants/livepatchd.socket"
pack "$installed" "$work/installed.cpio.gz"
rm -rf "$installed"

overlay() {  # PHASE DIR
    local phase=$1 root=$2
    # The package's config file as shipped (the defaults: kernel backend) and the tier's key:
    # the package creates /etc/livepatchd/keys and leaves what is in it alone.
    mkdir -p "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/livepatchd/keys" \
        "$root/opt/livepatchd-vm/modules" "$root/usr/lib/modules/$VM_KERNEL_RELEASE"
    cp "$keys/vm-tier.pub" "$root/etc/livepatchd/keys/"
    if [[ $phase == 1 ]]; then cp "$deb" "$root/opt/livepatchd-vm/livepatchd.deb" && cp "$yardstick" "$root/opt/livepatchd-vm/yardstick-json" &&
        cp "$work/varlink-load" "$root/opt/livepatchd-vm/varlink-load"; fi
    cp "$here"/guest/{lib.sh,main.sh,boot1.sh,boot2.sh,boot3.sh,crash.sh} "$root/opt/livepatchd-vm/"
    cp "$modules"/* "$root/opt/livepatchd-vm/modules/"
    cp -r "$bundles" "$root/opt/livepatchd-vm/bundles"
    echo "$phase" >"$root/opt/livepatchd-vm/phase"
    cp "$here/guest/livepatchd-vm.service" "$root/etc/systemd/system/"
    ln -s ../livepatchd-vm.service "$root/etc/systemd/system/multi-user.target.wants/livepatchd-vm.service"
    if [[ $phase != 1 ]]; then
        # Boots 2 and 3 both start from the state directory boot 1 ended with.
        mkdir -p "$root/var/lib"
        sed -n 's/^STATE //p' "$work/results-1.log" | tr -d '\r' | base64 -d | tar -C "$root/var/lib" -xzf -
    fi
}

boot() {  # PHASE DEADLINE_SECONDS [KERNEL_PARAMETER...]: 0 when the boot reported END
    local phase=$1 deadline=$2 root=$work/overlay-$1 started=$SECONDS
    shift 2
    local extra=${*:+ $*}
    overlay "$phase" "$root"
    pack "$root" "$work/overlay-$phase.cpio.gz"
    local archives=("$VM_ROOTFS")
    [[ $phase == 1 ]] || archives+=("$work/installed.cpio.gz")
    cat "${archives[@]}" "$work/overlay-$phase.cpio.gz" >"$work/initrd-$phase"
    : >"$work/results-$phase.log"
    timeout --foreground "$deadline" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2048 \
        -kernel "$VM_KERNEL_IMAGE" -initrd "$work/initrd-$phase" \
        -append "console=ttyS0 rdinit=/sbin/init panic=-1 loglevel=4 systemd.show_status=auto$extra" \
        -display none -monitor none -nic none -no-reboot \
        -serial "file:$work/console-$phase.log" -serial "file:$work/results-$phase.log" || true
    boot_seconds[$phase]=$((SECONDS - started))
    [[ ${LIVEPATCHD_VM_KEEP:-} == 1 ]] || rm -f "$work/initrd-$phase"
    grep -q "^END boot $phase" <(tr -d '\r' <"$work/results-$phase.log")
}

step "booting the VM" "qemu-system-x86_64's error is above; the console log is kept with LIVEPATCHD_VM_KEEP=1"
declare -A boot_seconds
report=$work/report
: >"$report"
collect() {  # PHASE
    tr -d '\r' <"$work/results-$1.log" | grep -v '^STATE' >>"$report" || true
}

incomplete=()
if boot 1 "$boot1_deadline"; then
    collect 1
    boot 2 "$boot2_deadline" || incomplete+=(2)
    collect 2
    # The kill switch: the same state directory, applying turned off on the kernel command line.
    boot 3 "$boot3_deadline" livepatchd.apply=off || incomplete+=(3)
    collect 3
else
    collect 1
    incomplete=(1)
fi

summarized=1
passed=$(grep -c '^RESULT PASS' "$report" || true)
failed=$(grep -c '^RESULT FAIL' "$report" || true)
echo
echo "VM tier on $VM_KERNEL_RELEASE (qemu TCG):"
sed -n -e 's/^RESULT PASS \([0-9.]*\) \(.*\)/  PASS  \1 s  \2/p' -e 's/^RESULT FAIL \([0-9.]*\) \(.*\)/  FAIL  \1 s  \2/p' \
    -e 's/^DETAIL /          /p' -e 's/^BEGIN /  -- /p' "$report"
echo "Timings and facts:"
sed -n -e 's/^TIMING /  /p' -e 's/^INFO /  /p' "$report"
for phase in $(printf '%s\n' "${!boot_seconds[@]}" | sort -n); do echo "  boot $phase wall time (qemu start to power off): ${boot_seconds[$phase]} s"; done
echo "  VM tier wall time: $((SECONDS - tier_started)) s"
for phase in "${incomplete[@]}"; do
    failed=$((failed + 1))
    echo "boot $phase did not finish within its deadline or crashed; console tail:"
    tail -40 "$work/console-$phase.log" | tr -d '\r' | sed 's/^/  | /'
done
if grep -q '^JOURNAL' "$report"; then
    echo "livepatchd journal (on failure):"
    sed -n 's/^JOURNAL /  | /p' "$report"
fi
if [[ ${LIVEPATCHD_VM_KEEP:-} == 1 ]]; then echo "work directory kept: $work"; fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]] || exit 1
