#!/bin/bash
# How long GetStatus takes while the daemon verifies a big bundle: the control socket must not
# wait for a module being copied and hashed (issue 9).
#
#   scripts/bench-status-under-verify.sh [BIN_DIR] [SIZE_MIB]
#
# Starts livepatchd (from BIN_DIR, default: a release build of this checkout) on the simulated
# kernel in a temporary directory, then a client calls GetStatus on one connection in a closed
# loop while a SIZE_MIB (default 64) bundle is dropped, verified and applied, and prints the
# latency percentiles of the calls made meanwhile, and of the same number of calls when idle.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-}
size=${2:-64}
if [[ -z $bin ]]; then
    (cd "$repo" && swift build -c release >/dev/null)
    bin=$(cd "$repo" && swift build -c release --show-bin-path)
fi
work=$(mktemp -d /tmp/livepatchd-bench.XXXXXX)
daemon=""
cleanup() {
    [[ -z $daemon ]] || kill "$daemon" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work"/{keys,incoming,staging,state}
"$bin/lpbundle" keygen --name bench --out "$work/keys" >/dev/null
"$repo/scripts/make-test-module.sh" --out "$work/staging/big_patch.ko" --name big_patch --release 6.1.0-bench-amd64 \
    --functions vmlinux:big_target
# Zeros after the ELF: libkmod reads the sections by their offsets, the hash reads every byte.
truncate -s "${size}M" "$work/staging/big_patch.ko"
"$bin/lpbundle" create "$work/staging/big_patch.ko" --key "$work/keys/bench.key" --version 1 --out "$work/bundle" >/dev/null
cat >"$work/livepatchd.toml" <<EOF
backend = "simulated"
simulated_root = "$work/kernel"
simulated_kernel = "6.1.0-bench-amd64"
patch_dir = "$work/incoming"
state_dir = "$work/state"
socket = "$work/io.livepatchd"
keys_dir = "$work/keys"
max_module_size = "$((size + 1))MiB"
log_level = "warning"
EOF
LIVEPATCHD_LOG=stderr "$bin/livepatchd" --config "$work/livepatchd.toml" 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 100); do [[ -S $work/io.livepatchd ]] && break; sleep 0.1; done

python3 - "$work" <<'PY'
import json, os, shutil, socket, sys, time
work = sys.argv[1]

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(f"{work}/io.livepatchd")
    return s

def call(s, method, params=None):
    s.sendall(json.dumps({"method": method, "parameters": params or {}}).encode() + b"\0")
    data = b""
    while not data.endswith(b"\0"):
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("the daemon closed the connection")
        data += chunk
    return json.loads(data[:-1])

def percentiles(samples):
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000
    return f"{len(samples)} calls, p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, max {samples[-1] * 1000:.2f} ms"

s = connect()
def state():
    patches = call(s, "io.livepatchd.ListPatches")["parameters"]["patches"]
    return next((p["state"] for p in patches if p["name"] == "big_patch"), None)

busy = []
started = time.monotonic()
for name in os.listdir(f"{work}/bundle"):
    shutil.copy(f"{work}/bundle/{name}", f"{work}/incoming/{name}")
deadline = started + 120
while True:
    t = time.monotonic()
    call(s, "io.livepatchd.GetStatus")
    busy.append(time.monotonic() - t)
    if len(busy) % 20 == 0 and state() == "applied":
        break
    if time.monotonic() > deadline:
        raise SystemExit(f"big_patch not applied after 120 s: {state()}")
took = time.monotonic() - started
idle = []
for _ in range(len(busy)):
    t = time.monotonic()
    call(s, "io.livepatchd.GetStatus")
    idle.append(time.monotonic() - t)
print(f"dropped until applied: {took:.2f} s")
print(f"GetStatus while verifying: {percentiles(busy)}")
print(f"GetStatus idle:            {percentiles(idle)}")
PY
