# Second boot: the state directory of the first boot carried over, livepatchd enabled and
# started by systemd at boot. This runner is ordered after livepatchd.service (Type=notify),
# so it starts once READY=1 was sent: whatever it sees at once was done before READY=1.
# Then patches the kernel refuses, and the reasons in the kernel's own words.
# shellcheck shell=bash

reapplied_before_ready() {
    local ready
    ready=$(systemctl show -p ActiveEnterTimestampMonotonic --value livepatchd)
    systemctl is-active -q livepatchd || fail "livepatchd not active at boot"
    # No waiting here: these must already hold.
    klp_settled lp_replace || fail "lp_replace not enabled and settled when READY=1 was sent"
    klp_settled lp_modobj || fail "lp_modobj not enabled and settled when READY=1 was sent"
    file_has /proc/cmdline "livepatchd-test lp_replace v2" || fail "/proc/cmdline: $(cat /proc/cmdline)"
    # And the journal agrees: applied before systemd saw READY=1.
    local applied
    applied=$(journalctl -u livepatchd -o json --no-pager LIVEPATCH_NAME=lp_replace LIVEPATCH_STATE=applied |
        jq -r '.__MONOTONIC_TIMESTAMP' | head -1)
    [[ -n $applied ]] || fail "no applied entry for lp_replace in this boot's journal"
    ((applied < ready)) || fail "lp_replace applied at ${applied} us, after READY=1 at ${ready} us"
    emit "TIMING boot: livepatchd READY=1 at $((ready / 1000)) ms after kernel start, lp_replace applied at $((applied / 1000)) ms"
}

states_after_reboot() {
    local states
    states=$(lp list --json | jq -r '.patches | map("\(.name)=\(.state)") | sort | join(" ")')
    emit "INFO states after reboot: $states"
    local expected
    for expected in lp_replace=applied lp_modobj=applied lp_cmdline=superseded lp_uptime=reverted \
        lp_stall=failed lp_badmagic=rejected lp_plain=rejected lp_stack=reverted \
        lp_otherkernel=staged; do
        [[ " $states " == *" $expected "* ]] || fail "expected $expected in: $states"
    done
    never_inserted lp_stall || fail "failed lp_stall was retried after the reboot"
    never_inserted lp_uptime || fail "reverted lp_uptime was loaded again"
    never_inserted lp_cmdline || fail "superseded lp_cmdline was loaded again"
    lp status >/dev/null; [[ $? == 1 ]] || fail "lpclient status should stay degraded (failed and rejected patches)"
}

# The failed entry the daemon journaled for NAME's last failure, as one JSON object.
failed_entry() {
    journalctl -u livepatchd -o json --no-pager LIVEPATCH_NAME="$1" LIVEPATCH_STATE=failed | tail -1
}

# expect_refusal NAME WORDS HINT: NAME failed; its reason, `lpclient list` and the journal entry
# quote the kernel's WORDS, the errno once, the HINT, and no path of the store.
expect_refusal() {
    local name=$1 words=$2 hint=$3 reason entry
    expect_state "$name" failed 90
    never_inserted "$name" || fail "$name is loaded although the kernel refused it"
    reason=$(patch_field "$name" .reason)
    emit "INFO lpclient show $name, reason: $reason"
    [[ $reason == *"$words"* ]] || fail "$name: the reason does not quote the kernel ('$words'): $reason"
    [[ $reason == *"hint: $hint"* ]] || fail "$name: no hint '$hint': $reason"
    [[ $reason != */var/lib/livepatchd/* ]] || fail "$name: a store path in the reason: $reason"
    local errno_text
    errno_text=$(sed -n 's/.*(\([A-Z][a-z][^()]*\)); hint:.*/\1/p' <<<"$reason")
    [[ -n $errno_text ]] || fail "$name: no errno after the kernel's words: $reason"
    [[ $(grep -o -F "$errno_text" <<<"$reason" | wc -l) == 1 ]] || fail "$name: the errno '$errno_text' is not there once: $reason"
    lp list | grep -F "$name" | grep -qF "$words" || fail "$name: lpclient list does not show the kernel's words: $(lp list)"
    entry=$(failed_entry "$name")
    emit "INFO journal entry: $(jq -c '{MESSAGE, LIVEPATCH_REASON, LIVEPATCH_KERNEL_MESSAGE}' <<<"$entry")"
    [[ $(jq -r '.LIVEPATCH_KERNEL_MESSAGE // empty' <<<"$entry") == *"$words"* ]] ||
        fail "$name: LIVEPATCH_KERNEL_MESSAGE does not hold '$words': $entry"
    [[ $(jq -r '.LIVEPATCH_REASON // empty' <<<"$entry") == "$reason" ]] || fail "$name: LIVEPATCH_REASON is not the reason: $entry"
}

# The kernel's own self-test modules, as its tools/testing/selftests/livepatch/test-state.sh
# "incompatible cumulative livepatches" loads them: test_klp_state2 holds the console_loglevel
# state in version 2, so test_klp_state (version 1) is refused with EINVAL, and only the
# kernel's log says why.
klp_state_refused() {
    drop test_klp_state2
    expect_state test_klp_state2 applied 90
    drop test_klp_state
    expect_refusal test_klp_state "Livepatch patch (test_klp_state) is not compatible with the already installed livepatches" \
        "a newer cumulative patch holds a newer state version"
    local reason output status
    reason=$(patch_field test_klp_state .reason)
    [[ $reason != *test_klp_state2* ]] || fail "lines about test_klp_state2 in test_klp_state's reason: $reason"
    output=$(lp apply test_klp_state 2>&1)
    status=$?
    emit "INFO lpclient apply test_klp_state (exit $status): ${output//$'\n'/ | }"
    ((status == 1)) || fail "lpclient apply test_klp_state exits $status, expected 1"
    [[ $output == *"not compatible with the already installed livepatches"* ]] || fail "lpclient apply does not say why: $output"
    klp_settled test_klp_state2 && state_is test_klp_state2 applied || fail "test_klp_state2 is $(patch_state test_klp_state2)"
    lp revert test_klp_state2 >/dev/null || fail "lpclient revert test_klp_state2 exits $?"
    ! module_loaded test_klp_state2 || fail "test_klp_state2 still loaded after revert"
}

# A patch built against another kernel build: one calls a function this kernel does not export
# (the module loader names the module and the symbol), one patches a function this kernel does
# not have (livepatch names only the symbol).
unknown_symbols_named() {
    drop lp_nosym
    expect_refusal lp_nosym "lp_nosym: Unknown symbol lp_no_such_symbol" "built for another kernel build"
    drop lp_nofunc
    expect_refusal lp_nofunc "symbol 'lp_no_such_function' not found" "built for another kernel build"
}

scenario "reboot: desired patches re-applied before READY=1" reapplied_before_ready
scenario "reboot: every state as before, failed and reverted patches not loaded" states_after_reboot
# Last, since nothing after them may depend on what is applied: test_klp_state2 is a replace
# patch and supersedes every other, and a failed patch keeps lpclient status degraded.
scenario "the kernel's test_klp_state after test_klp_state2: refused, the kernel's words in the reason and the journal" klp_state_refused
scenario "unknown symbols: refused, the symbol named in the reason and the journal" unknown_symbols_named
