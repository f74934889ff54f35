# Second boot: the state directory of the first boot carried over, livepatchd enabled and
# started by systemd at boot. This runner is ordered after livepatchd.service (Type=notify),
# so it starts once READY=1 was sent: whatever it sees at once was done before READY=1.
# Boot 1 ended (as far as its state directory tells) in the middle of enabling lp_stall, with
# livepatchd killed: lp_stall is quarantined here. And the patch directory holds lp_seq's
# older bundle (sequence 3) alone, refused in boot 1 after sequence 5: the sequence 5 build is
# applied again from the store, the older one refused again.
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
        lp_stall=quarantined lp_badmagic=rejected lp_plain=rejected lp_stack=reverted \
        lp_otherkernel=staged lp_seq=applied; do
        [[ " $states " == *" $expected "* ]] || fail "expected $expected in: $states"
    done
    never_inserted lp_stall || fail "lp_stall, being enabled when boot 1 ended, was applied again after the reboot"
    never_inserted lp_uptime || fail "reverted lp_uptime was loaded again"
    never_inserted lp_cmdline || fail "superseded lp_cmdline was loaded again"
    lp status >/dev/null; [[ $? == 1 ]] || fail "lpclient status should stay degraded (failed and rejected patches)"
}

# The unit orders itself Before=network-pre.target and pulls it in (Wants=): READY=1, which comes
# after the desired patches are back, came before the network could come up.
ordered_before_network_pre() {
    local before wants ours network
    before=$(systemctl show -p Before --value livepatchd.service)
    wants=$(systemctl show -p Wants --value livepatchd.service)
    emit "INFO livepatchd.service Before=$before; Wants=$wants"
    [[ " $before " == *" network-pre.target "* ]] || fail "Before= of livepatchd.service lacks network-pre.target: $before"
    [[ " $wants " == *" network-pre.target "* ]] || fail "Wants= of livepatchd.service lacks network-pre.target: $wants"
    [[ $(systemctl show -p ActiveState --value network-pre.target) == active ]] ||
        fail "network-pre.target is $(systemctl show -p ActiveState --value network-pre.target), not active"
    ours=$(systemctl show -p ActiveEnterTimestampMonotonic --value livepatchd.service)
    network=$(systemctl show -p ActiveEnterTimestampMonotonic --value network-pre.target)
    emit "TIMING boot: livepatchd.service active at $((ours / 1000)) ms, network-pre.target at $((network / 1000)) ms after kernel start"
    ((ours > 0 && network > 0)) || fail "no activation time: livepatchd.service $ours, network-pre.target $network"
    ((ours < network)) || fail "livepatchd.service became active at $ours us, network-pre.target at $network us: not before it"
    local cycles
    cycles=$(journalctl -b --no-pager | grep -i "ordering cycle")
    [[ -z $cycles ]] || fail "systemd found an ordering cycle: $cycles"
}

quarantined_after_crash() {
    local listed reason ready entry problems output status
    listed=$(lp list --json | jq -c '.patches[] | select(.name == "lp_stall") | {state, reason_code, desired}')
    emit "INFO lpclient list --json, lp_stall: $listed"
    [[ $(jq -r .state <<<"$listed") == quarantined && $(jq -r .reason_code <<<"$listed") == quarantined ]] ||
        fail "lpclient list --json shows lp_stall as $listed"
    state_is lp_stall quarantined || fail "lpclient show lp_stall: $(patch_state lp_stall)"
    [[ $(patch_field lp_stall .reason_code) == quarantined ]] || fail "lpclient show lp_stall: reason_code $(patch_field lp_stall .reason_code)"
    reason=$(patch_field lp_stall .reason)
    emit "INFO lpclient show lp_stall, reason: $reason"
    [[ $reason == *"lpclient apply lp_stall"* ]] || fail "the reason does not say how to apply it on purpose: $reason"
    klp_gone lp_stall || fail "/sys/kernel/livepatch/lp_stall exists"
    never_inserted lp_stall || fail "the lp_stall module was loaded"
    lp status >/dev/null
    status=$?
    ((status == 1)) || fail "lpclient status exits $status, expected 1"
    problems=$(lp status --json | jq -r '.problems[]')
    grep -q '^lp_stall quarantined' <<<"$problems" || fail "lpclient status does not count lp_stall as a problem: $problems"
    entry=$(journalctl -b -u livepatchd -o json --no-pager MESSAGE_ID=db028a0d5c7345d4acbd6bb8d06f65b2 LIVEPATCH_NAME=lp_stall | head -1)
    [[ -n $entry ]] || fail "no journal entry with MESSAGE_ID=db028a0d5c7345d4acbd6bb8d06f65b2 for lp_stall"
    emit "INFO journal: $(jq -c '{MESSAGE_ID, PRIORITY, LIVEPATCH_STATE, MESSAGE}' <<<"$entry")"
    [[ $(jq -r .LIVEPATCH_STATE <<<"$entry") == quarantined ]] || fail "the entry's LIVEPATCH_STATE: $entry"
    # Decided at start, before READY=1: nothing was applied in between.
    ready=$(systemctl show -p ActiveEnterTimestampMonotonic --value livepatchd)
    (( $(jq -r .__MONOTONIC_TIMESTAMP <<<"$entry") < ready )) || fail "quarantined after READY=1 ($ready us): $entry"
    # On purpose: applied (lp_stall_target is not loaded in this boot, so nothing blocks it).
    output=$(lp apply lp_stall 2>&1)
    status=$?
    emit "INFO lpclient apply lp_stall (exit $status): ${output//$'\n'/ | }"
    ((status == 0)) || fail "lpclient apply lp_stall exits $status: $output"
    state_is lp_stall applied && klp_settled lp_stall || fail "lp_stall is $(patch_state lp_stall) after lpclient apply"
    lp revert lp_stall >/dev/null || fail "lpclient revert lp_stall exits $?"
    never_inserted lp_stall || fail "lp_stall still loaded after revert"
}

# Boot 1 applied sequence 5, then refused sequence 3, which the patch directory now holds alone:
# the replay must not take the newer build out; it is applied again from the store.
downgrade_after_reboot() {
    local sha3 sha5 problems
    sha3=$(sha256sum "$VM_DIR/bundles/lp_seq_v3/lp_seq-v3.ko" | cut -d' ' -f1)
    sha5=$(sha256sum "$VM_DIR/bundles/lp_seq_v5/lp_seq-v5.ko" | cut -d' ' -f1)
    emit "INFO lpclient show lp_seq: state $(patch_state lp_seq), reason_code $(patch_field lp_seq .reason_code): $(patch_field lp_seq .reason)"
    state_is lp_seq applied || fail "lp_seq is $(patch_state lp_seq), expected applied (the sequence 5 build, again)"
    [[ $(patch_field lp_seq .reason_code) == downgrade ]] || fail "lp_seq reason_code is $(patch_field lp_seq .reason_code)"
    [[ $(patch_field lp_seq .sha256) == "$sha5" ]] || fail "lp_seq's record is not the sequence 5 bundle: $(patch_field lp_seq .sha256)"
    klp_settled lp_seq || fail "lp_seq not enabled and settled"
    [[ $(seq_build) == 5 ]] || fail "/sys/module/lp_seq/version is '$(seq_build)', expected 5"
    file_has /proc/loadavg "livepatchd-test lp_seq build 5" || fail "/proc/loadavg: $(cat /proc/loadavg)"
    [[ -z $(journalctl -b -u livepatchd -o json --no-pager LIVEPATCH_NAME=lp_seq LIVEPATCH_STATE=applying LIVEPATCH_SHA256="$sha3") ]] ||
        fail "the daemon started applying the sequence 3 build"
    problems=$(lp status --json | jq -r '.problems[]')
    grep -q '^lp_seq: a bundle that arrived was refused: downgrade refused' <<<"$problems" ||
        fail "lpclient status does not report the refused replay: $problems"
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
scenario "boot order: livepatchd.service active before network-pre.target" ordered_before_network_pre
scenario "reboot: every state as before, failed and reverted patches not loaded" states_after_reboot
scenario "quarantine: lp_stall, being enabled when boot 1 ended, quarantined and not loaded; lpclient apply applies it" quarantined_after_crash
scenario "downgrade after reboot: the older bundle alone in the patch directory refused, the newer build applied again" downgrade_after_reboot
# Last, since nothing after them may depend on what is applied: test_klp_state2 is a replace
# patch and supersedes every other, and a failed patch keeps lpclient status degraded.
scenario "the kernel's test_klp_state after test_klp_state2: refused, the kernel's words in the reason and the journal" klp_state_refused
scenario "unknown symbols: refused, the symbol named in the reason and the journal" unknown_symbols_named
