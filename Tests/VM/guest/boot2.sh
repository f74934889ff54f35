# Second boot: the state directory of the first boot carried over, livepatchd enabled and
# started by systemd at boot. This runner is ordered after livepatchd.service (Type=notify),
# so it starts once READY=1 was sent: whatever it sees at once was done before READY=1.
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

scenario "reboot: desired patches re-applied before READY=1" reapplied_before_ready
scenario "reboot: every state as before, failed and reverted patches not loaded" states_after_reboot
