# Helpers for the in-VM scenarios (sourced by main.sh). Results go to the second serial
# port, which the host reads back: RESULT/DETAIL/TIMING/INFO lines, then END.
# shellcheck shell=bash

VM_DIR=/opt/livepatchd-vm
RESULTS=${RESULTS:-/dev/ttyS1}
INCOMING=/var/lib/livepatchd/incoming
KERNEL_RELEASE=$(uname -r)
passed=0
failed=0

emit() {
    printf '%s\n' "$*" >>"$RESULTS"
    printf 'livepatchd-vm: %s\n' "$*"
}

now_ms() { date +%s%3N; }

# fail MESSAGE: ends the running scenario (each runs in a subshell) with MESSAGE.
fail() {
    printf '%s\n' "$*" >>"$fail_file"
    exit 1
}

# scenario NAME FUNCTION: runs FUNCTION in a subshell, reports PASS/FAIL with its duration.
scenario() {
    local name=$1 function=$2 started status
    fail_file=$(mktemp)
    started=$(now_ms)
    ( "$function" ) >>/var/log/livepatchd-vm-scenarios.log 2>&1
    status=$?
    local elapsed=$(( $(now_ms) - started ))
    local seconds
    seconds=$(printf '%d.%03d' $((elapsed / 1000)) $((elapsed % 1000)))
    if ((status == 0)); then
        passed=$((passed + 1))
        emit "RESULT PASS $seconds $name"
    else
        failed=$((failed + 1))
        emit "RESULT FAIL $seconds $name"
        [[ -s $fail_file ]] || echo "exited with status $status" >"$fail_file"
        while IFS= read -r line; do emit "DETAIL $line"; done <"$fail_file"
    fi
    rm -f "$fail_file"
}

# wait_for SECONDS COMMAND...: true once COMMAND succeeds; false after SECONDS. Polls every 20 ms.
wait_for() {
    local limit=$(( $(now_ms) + $1 * 1000 ))
    shift
    until "$@"; do
        (( $(now_ms) < limit )) || return 1
        sleep 0.02
    done
}

lp() { /usr/local/bin/lpclient "$@"; }

# patch_field NAME JQ_FILTER: a field of `lpclient show NAME --json`, empty when unknown.
patch_field() { lp show "$1" --json 2>/dev/null | jq -r ".patch | $2 // empty"; }
patch_state() { patch_field "$1" .state; }
state_is() { [[ $(patch_state "$1") == "$2" ]]; }

module_loaded() { [[ -d /sys/module/$1 ]]; }
never_inserted() { ! grep -q "^$1 " /proc/modules; }
klp_enabled() { [[ $(cat "/sys/kernel/livepatch/$1/enabled" 2>/dev/null) == 1 ]]; }
klp_settled() { klp_enabled "$1" && [[ $(cat "/sys/kernel/livepatch/$1/transition") == 0 ]]; }
klp_gone() { [[ ! -e /sys/kernel/livepatch/$1 ]]; }

# drop NAME: copies the signed bundle NAME into the patch directory, module last.
drop() {
    local bundle=$VM_DIR/bundles/$1 file
    for file in "$bundle"/*.json "$bundle"/*.sig; do cp "$file" "$INCOMING/"; done
    for file in "$bundle"/*.ko; do cp "$file" "$INCOMING/"; done
}

# expect_state NAME STATE SECONDS: waits for the daemon to report STATE.
expect_state() {
    wait_for "$3" state_is "$1" "$2" ||
        fail "$1: state '$(patch_state "$1")' after $3 s, expected $2 (reason: $(patch_field "$1" .reason))"
}

file_has() { grep -qF -- "$2" "$1"; }
