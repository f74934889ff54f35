# Third boot: boot 1's state directory again (as boot 2 got it), with livepatchd.apply=off on
# the kernel command line: the boot kill switch. The daemon starts and reports, verifies and
# stages what arrives, and loads nothing: not the patches boot 1 left desired (lp_replace,
# lp_modobj, which boot 2 re-applied from the same state), not a new bundle, not on request.
# shellcheck shell=bash

APPLY_OFF_LINE="applying is off (livepatchd.apply=off on the kernel command line)"

# Our patches in /sys/kernel/livepatch, by name; none with applying off.
livepatch_dirs() {
    local directory names=()
    for directory in /sys/kernel/livepatch/*; do [[ -e $directory ]] && names+=("${directory##*/}"); done
    echo "${names[*]}"
}

nothing_applied_at_boot() {
    [[ " $(cat /proc/cmdline) " == *" livepatchd.apply=off "* ]] || fail "livepatchd.apply=off not on the kernel command line: $(cat /proc/cmdline)"
    systemctl is-active -q livepatchd || fail "livepatchd not active: $(systemctl status livepatchd --no-pager 2>&1 | tail -5)"
    # This runner starts after livepatchd.service is active, i.e. after READY=1.
    local ready
    ready=$(systemctl show -p ActiveEnterTimestampMonotonic --value livepatchd)
    ((ready > 0)) || fail "livepatchd.service never became active (READY=1)"
    emit "TIMING boot (apply off): livepatchd READY=1 at $((ready / 1000)) ms after kernel start"
    emit "INFO states with applying off: $(lp list --json | jq -r '.patches | map("\(.name)=\(.state)") | sort | join(" ")')"
    [[ $(lp status --json | jq -r .apply) == off ]] || fail "lpclient status --json: apply is $(lp status --json | jq -r .apply)"
    [[ -z $(livepatch_dirs) ]] || fail "in /sys/kernel/livepatch with applying off: $(livepatch_dirs)"
    local name
    for name in lp_replace lp_modobj lp_seq lp_stall; do
        never_inserted "$name" || fail "$name was loaded with applying off"
    done
    for name in lp_replace lp_modobj; do
        state_is "$name" staged || fail "$name is $(patch_state "$name") with applying off, expected staged"
        [[ $(patch_field "$name" .desired) == true ]] || fail "$name is no longer desired: applying off must not forget it"
    done
    [[ $(systemctl show -p StatusText --value livepatchd) == *"$APPLY_OFF_LINE"* ]] ||
        fail "STATUS= does not say applying is off: $(systemctl show -p StatusText --value livepatchd)"
    local text status
    text=$(lp status)
    status=$?
    emit "INFO lpclient status (exit $status): $(grep -m1 -F "applying is off" <<<"$text")"
    grep -qF "$APPLY_OFF_LINE" <<<"$text" || fail "lpclient status does not say '$APPLY_OFF_LINE': $text"
}

dropped_bundle_staged() {
    # test_klp_state2 applies on this kernel (boot 2 applies it); boot 1's state has never seen it.
    drop test_klp_state2
    expect_state test_klp_state2 staged 60
    emit "INFO test_klp_state2 with applying off: staged, reason: $(patch_field test_klp_state2 .reason)"
    nap 2  # nothing to wait for: it must stay staged
    state_is test_klp_state2 staged || fail "test_klp_state2 is $(patch_state test_klp_state2)"
    never_inserted test_klp_state2 || fail "test_klp_state2 was loaded with applying off"
    [[ -z $(livepatch_dirs) ]] || fail "in /sys/kernel/livepatch with applying off: $(livepatch_dirs)"
}

apply_refused() {
    local name output status
    for name in test_klp_state2 lp_replace; do
        output=$(lp apply "$name" 2>&1)
        status=$?
        emit "INFO lpclient apply $name (exit $status): ${output//$'\n'/ | }"
        ((status == 1)) || fail "lpclient apply $name exits $status, expected 1: $output"
        [[ $output == *"applying is off"* ]] || fail "lpclient apply $name does not say applying is off: $output"
        never_inserted "$name" || fail "$name was loaded by lpclient apply with applying off"
        state_is "$name" staged || fail "$name is $(patch_state "$name") after the refused apply"
    done
    [[ -z $(livepatch_dirs) ]] || fail "in /sys/kernel/livepatch with applying off: $(livepatch_dirs)"
    # Not even tried: no load was started in this boot.
    local tried
    tried=$(journalctl -b -u livepatchd -o json --no-pager LIVEPATCH_STATE=applying | jq -r .LIVEPATCH_NAME | sort -u | paste -sd' ')
    [[ -z $tried ]] || fail "the journal has applying entries in this boot for: $tried"
}

scenario "livepatchd.apply=off: READY, desired patches not re-applied, status says applying is off" nothing_applied_at_boot
scenario "livepatchd.apply=off: a dropped bundle is verified and staged, not loaded" dropped_bundle_staged
scenario "livepatchd.apply=off: lpclient apply refused (exit 1), nothing loaded" apply_refused
