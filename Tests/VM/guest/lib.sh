# Helpers for the in-VM scenarios (sourced by main.sh). Results go to the second serial
# port, which the host reads back: RESULT/DETAIL/TIMING/INFO lines, then END.
# shellcheck shell=bash

VM_DIR=/opt/livepatchd-vm
RESULTS=${RESULTS:-/dev/ttyS1}
INCOMING=/var/lib/livepatchd/incoming
# Boot 1's state directory as a crash in the middle of a transition leaves it (boot1.sh's last
# scenario); main.sh sends it to the next boots.
QUARANTINE_STATE=/run/livepatchd-vm-state.tgz
KERNEL_RELEASE=$(uname -r)
passed=0
failed=0

emit() {
    printf '%s\n' "$*" >>"$RESULTS"
    printf 'livepatchd-vm: %s\n' "$*"
}

# Waiting and reading sysfs without forking: a forked poller keeps a CPU busy, and the kernel
# cannot check the stack of a task running on another CPU, so it would retry the transition a
# second later and the timings would measure the poller.
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
mkfifo /run/livepatchd-vm-sleep 2>/dev/null
exec {sleep_fd}<>/run/livepatchd-vm-sleep
nap() { read -r -t "$1" -u "$sleep_fd" _ || true; }
read_file() {  # FILE VAR: VAR = first line of FILE; false when unreadable
    local -n into=$2
    into=
    { read -r into <"$1"; } 2>/dev/null || [[ -n $into ]]
}

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
    local limit=$(( ${EPOCHREALTIME/./} + $1 * 1000000 ))
    shift
    until "$@"; do
        (( ${EPOCHREALTIME/./} < limit )) || return 1
        nap 0.02
    done
}

lp() { lpclient "$@"; }

# Every file on the root file system, except what changes by itself (logs, caches, the dpkg and
# systemd databases) and the tier's own files: compared before dpkg -i and after dpkg --purge.
snapshot() {
    find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp -o -path /var/log \
        -o -path /var/cache -o -path /var/lib/dpkg -o -path /var/lib/systemd -o -path /opt/livepatchd-vm \) -prune \
        -o -print | LC_ALL=C sort
}

# patch_field NAME JQ_FILTER: a field of `lpclient show NAME --json`, empty when unknown.
patch_field() { lp show "$1" --json 2>/dev/null | jq -r ".patch | $2 // empty"; }
patch_state() { patch_field "$1" .state; }
state_is() { [[ $(patch_state "$1") == "$2" ]]; }

module_loaded() { [[ -d /sys/module/$1 ]]; }
never_inserted() { ! grep -q "^$1 " /proc/modules; }
klp_enabled() { local value; read_file "/sys/kernel/livepatch/$1/enabled" value && [[ $value == 1 ]]; }
klp_settled() {
    local transition
    klp_enabled "$1" && read_file "/sys/kernel/livepatch/$1/transition" transition && [[ $transition == 0 ]]
}
klp_gone() { [[ ! -e /sys/kernel/livepatch/$1 ]]; }
# The build of lp_seq the kernel runs (its module version: 5 or 3), empty when it is not loaded.
seq_build() { local build; read_file /sys/module/lp_seq/version build && echo "$build"; }

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
