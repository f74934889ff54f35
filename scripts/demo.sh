#!/bin/sh
# Runs livepatchd on the simulated kernel with three demo patches signed by a demo key, all in
# one temporary directory, in the foreground (Ctrl-C stops it). From another terminal:
#   export LIVEPATCHD_SOCKET=<dir>/io.livepatchd     (printed below)
#   .build/debug/lpclient status
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "building (the first build takes a few minutes)..."
swift build --product livepatchd
swift build --product lpclient
swift build --product lpbundle
bin=$(swift build --show-bin-path)

demo=${LIVEPATCHD_DEMO_DIR:-$(mktemp -d /tmp/livepatchd-demo.XXXXXX)}
mkdir -p "$demo/keys" "$demo/incoming" "$demo/modules" "$demo/state"
release=$(uname -r)
other_release="6.1.0-99-amd64"

if [ ! -f "$demo/keys/demo.pub" ]; then
    "$bin/lpbundle" keygen --name demo --out "$demo/keys"
fi

module() {  # name release functions
    scripts/make-test-module.sh --out "$demo/modules/$1.ko" --name "$1" --release "$2" --functions "$3"
}
module demo_cmdline "$release" vmlinux:cmdline_proc_show
module demo_meminfo "$release" vmlinux:meminfo_proc_show
module demo_next_kernel "$other_release" vmlinux:cmdline_proc_show

"$bin/lpbundle" create "$demo/modules/demo_cmdline.ko" --key "$demo/keys/demo.key" --version 1.0 \
    --fixes CVE-2026-10001 --description "Demo: fixes /proc/cmdline" --out "$demo/incoming"
"$bin/lpbundle" create "$demo/modules/demo_meminfo.ko" --key "$demo/keys/demo.key" --version 1.0 \
    --fixes CVE-2026-10002 --description "Demo: fixes /proc/meminfo" --out "$demo/incoming"
"$bin/lpbundle" create "$demo/modules/demo_next_kernel.ko" --key "$demo/keys/demo.key" --version 1.0 \
    --description "Demo: built for the next kernel, staged until it boots" --out "$demo/incoming"

cat > "$demo/livepatchd.toml" <<TOML
backend = "simulated"
simulated_root = "$demo/kernel"
patch_dir = "$demo/incoming"
state_dir = "$demo/state"
socket = "$demo/io.livepatchd"
keys_dir = "$demo/keys"
apply = "auto"
apply_delay = "0s"
TOML

cat <<MSG

livepatchd demo in $demo (simulated kernel $release)
In another terminal:
  export LIVEPATCHD_SOCKET=$demo/io.livepatchd
  $bin/lpclient status
  $bin/lpclient list
Drop more bundles into $demo/incoming (lpbundle create ... --out $demo/incoming).
Ctrl-C stops the daemon; run this again with LIVEPATCHD_DEMO_DIR=$demo to restart it on the same state.

MSG
export LIVEPATCHD_LOG=stderr
exec "$bin/livepatchd" --config "$demo/livepatchd.toml"
