#!/bin/sh
# Prints how long `lpclient status` and `lpclient list --json` take against a daemon holding
# N patches (default 20), with release-built binaries: monitoring runs `lpclient status`
# every minute on every host, so its start-up cost matters.
#   scripts/bench-lpclient.sh [N]
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
command -v hyperfine >/dev/null 2>&1 || {
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
}
count=${1:-20}
swift build -c release --product lpclient
swift build -c release --product livepatchd
swift build -c release --product lpbundle
bin=$(swift build -c release --show-bin-path)

dir=$(mktemp -d /tmp/livepatchd-bench.XXXXXX)
trap 'kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
mkdir -p "$dir/incoming" "$dir/keys" "$dir/modules"
"$bin/lpbundle" keygen --name bench --out "$dir/keys" >/dev/null
i=0
while [ "$i" -lt "$count" ]; do
    scripts/make-test-module.sh --out "$dir/modules/bench_$i.ko" --name "bench_$i" --release 6.1.0-bench \
        --functions "vmlinux:bench_fn_$i"
    "$bin/lpbundle" create "$dir/modules/bench_$i.ko" --key "$dir/keys/bench.key" --version 1 --out "$dir/incoming" >/dev/null
    i=$((i + 1))
done
LIVEPATCHD_LOG=stderr "$bin/livepatchd" --backend simulated --simulated-root "$dir/kernel" --simulated-kernel 6.1.0-bench \
    --patch-dir "$dir/incoming" --state-dir "$dir/state" --socket "$dir/sock" --keys-dir "$dir/keys" \
    --log-level warning &
daemon=$!
export LIVEPATCHD_SOCKET="$dir/sock"
deadline=$(( $(date +%s) + 60 ))
# Measure a daemon that holds all N patches applied.
until "$bin/lpclient" status 2>/dev/null | head -1 | grep -q "$count applied"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "the daemon did not apply $count patches within 60 s; it says:" >&2
        "$bin/lpclient" status >&2 || true
        exit 1
    fi
    sleep 0.1
done
"$bin/lpclient" status | head -1
hyperfine -N --warmup 10 --runs 300 "$bin/lpclient status" "$bin/lpclient list --json"
