# Crash injection on the real kernel: livepatchd under systemd killed with SIGKILL at a
# failpoint (LIVEPATCHD_FAILPOINT through a runtime drop-in) or at a random moment during
# apply, revert and replace; systemd sees it fail (Restart=on-failure), the daemon comes back
# without the failpoint, and the invariants are checked against /sys/kernel/livepatch and
# /sys/module. Sourced by boot1.sh; runs after the other scenarios and leaves the states boot 2
# expects (lp_uptime reverted, lp_replace then lp_modobj applied).
# shellcheck shell=bash

CRASH_DROPIN=/run/systemd/system/livepatchd.service.d/50-failpoint.conf
CRASH_TRACE=/var/lib/livepatchd/failpoint.trace
crash_trials=0
crash_violations=0

# arm SPEC: livepatchd restarted with LIVEPATCHD_FAILPOINT=SPEC (empty SPEC: no failpoint).
crash_restart_armed() {
    mkdir -p "${CRASH_DROPIN%/*}"
    rm -f "$CRASH_TRACE"
    if [[ -n $1 ]]; then
        printf '[Service]\nEnvironment=LIVEPATCHD_FAILPOINT=%s LIVEPATCHD_FAILPOINT_TRACE=%s\n' "$1" "$CRASH_TRACE" >"$CRASH_DROPIN"
    else
        rm -f "$CRASH_DROPIN"
    fi
    systemctl daemon-reload
    # Trials restart the unit more often than the default start limit (5 in 10 s) allows.
    systemctl reset-failed livepatchd
    systemctl restart livepatchd || fail "livepatchd (armed with '$1') did not start: $(systemctl status livepatchd --no-pager 2>&1 | tail -5)"
}

crash_disarm() {
    rm -f "$CRASH_DROPIN"
    systemctl daemon-reload
}

# Killed, and systemd noticed: Restart=on-failure holds it in auto-restart for RestartSec.
crash_dead() { [[ $(systemctl show -p SubState --value livepatchd) == auto-restart ]]; }

history_json() { lp history --json | jq -c '.entries | map([.time, .name, .state])'; }

# Every reported state against sysfs and /sys/module; each problem on one line, none when consistent.
crash_problems() {
    local json name state sha
    json=$(lp list --json) || { echo "lpclient list failed"; return; }
    while read -r name state sha; do
        case $state in
            applied | foreign)
                klp_settled "$name" || echo "$name: reported $state, /sys/kernel/livepatch/$name not enabled and settled" ;;
            applying | reverting | pending)
                echo "$name: still $state" ;;
            *)
                [[ ! -e /sys/kernel/livepatch/$name ]] || echo "$name: reported $state, still in /sys/kernel/livepatch"
                if [[ -n $sha ]] && module_loaded "$name"; then echo "$name: reported $state, its module is left loaded"; fi ;;
        esac
    done < <(jq -r '.patches[] | "\(.name) \(.state) \(.sha256)"' <<<"$json")
    local directory
    for directory in /sys/kernel/livepatch/*; do
        [[ -e $directory ]] || continue
        name=${directory##*/}
        state=$(jq -r --arg name "$name" '.patches[] | select(.name == $name) | .state' <<<"$json")
        [[ $state == applied || $state == foreign ]] || echo "$name: in /sys/kernel/livepatch, reported ${state:-not at all}"
    done
    jq -e '.format == 2 and (.ledger.history | length) > 0' /var/lib/livepatchd/state.json >/dev/null 2>&1 ||
        echo "state.json does not parse"
}

crash_settled() { [[ -z $(lp list --json 2>/dev/null | jq -r '.patches[] | select(.state == "applying" or .state == "reverting") | .name') ]]; }

# crash_trial LABEL SPEC PATCH REQUEST WANTED [RANDOM_MS]: restart armed with SPEC, `lpclient
# REQUEST PATCH` (in the background: it loses its daemon), wait for the kill (or send it after
# RANDOM_MS), let the daemon come back unarmed, retry the request if it got no answer, check.
crash_trial() {
    local label=$1 spec=$2 patch=$3 request=$4 wanted=$5 random_ms=${6:-} started history client acknowledged
    started=$(now_ms)
    crash_trials=$((crash_trials + 1))
    crash_restart_armed "$spec"
    history=$(history_json)
    local restarts_before
    restarts_before=$(systemctl show -p NRestarts --value livepatchd)
    lp "$request" "$patch" >/dev/null 2>&1 &
    client=$!
    if [[ -n $random_ms ]]; then
        nap "$(printf '%d.%03d' $((random_ms / 1000)) $((random_ms % 1000)))"
        systemctl kill -s KILL livepatchd
    fi
    wait_for 60 crash_dead || fail "$label: livepatchd not killed (state $(systemctl show -p SubState --value livepatchd))"
    local died=$(( $(now_ms) - started ))
    wait "$client" && acknowledged=yes || acknowledged=no
    [[ -z $random_ms ]] && ! grep -q " kill$" "$CRASH_TRACE" && fail "$label: died, but not at its failpoint: $(tail -3 "$CRASH_TRACE")"
    crash_disarm
    if ((crash_trials == 1)); then
        # The first time, systemd brings it back itself (RestartSec=5s); later trials restart at once.
        wait_for 30 systemctl is-active -q livepatchd || fail "$label: systemd did not restart livepatchd"
        (( $(systemctl show -p NRestarts --value livepatchd) > restarts_before )) || fail "$label: NRestarts did not grow"
    else
        systemctl reset-failed livepatchd
        systemctl restart livepatchd || fail "$label: livepatchd did not come back"
    fi
    local back=$(( $(now_ms) - started ))
    wait_for 60 crash_settled || fail "$label: a transition never settled after the restart"
    local retried=no
    if ! state_is "$patch" "$wanted"; then
        lp "$request" "$patch" >/dev/null 2>&1 || fail "$label: the operator's retry lpclient $request $patch exits $?"
        retried=yes
    fi
    local problems
    problems=$(crash_problems)
    state_is "$patch" "$wanted" || problems+=$'\n'"$patch: $(patch_state "$patch"), expected $wanted"
    [[ $(history_json | jq -c ".[:$(jq length <<<"$history")]") == "$history" ]] || problems+=$'\n'"history entries before the crash lost"
    problems=$(sed '/^$/d' <<<"$problems")
    local verdict=consistent
    if [[ -n $problems ]]; then
        crash_violations=$((crash_violations + 1))
        verdict="VIOLATION: $(paste -sd';' <<<"$problems")"
    fi
    emit "INFO crash trial $crash_trials: $label: killed after $died ms, answered before the kill: $acknowledged, back (READY=1) after $back ms, retried: $retried; $patch $(patch_state "$patch"); $verdict"
}

crash_injection() {
    # lp_uptime: reverted before, reverted after. Its apply and revert, cut at each step.
    crash_trial "apply, failpoint engine.request.before-save" engine.request.before-save lp_uptime apply applied
    crash_trial "revert, failpoint backend.disable.before" backend.disable.before lp_uptime revert reverted
    crash_trial "apply, failpoint backend.load.before" backend.load.before lp_uptime apply applied
    crash_trial "revert, failpoint backend.disable.after" backend.disable.after lp_uptime revert reverted
    crash_trial "apply, failpoint backend.load.after" backend.load.after lp_uptime apply applied
    crash_trial "revert, failpoint backend.unload.after" backend.unload.after lp_uptime revert reverted
    # An apply writes the state twice: `applying` (with the request) before the load, `applied` after.
    crash_trial "apply, failpoint state.write.before-rename:2 (saving applied)" state.write.before-rename:2 lp_uptime apply applied
    crash_trial "revert, failpoint engine.record.before-save:2 (reverted, not saved)" engine.record.before-save:2 lp_uptime revert reverted
    crash_trial "apply, SIGKILL at a random moment" "" lp_uptime apply applied $((RANDOM % 1500))
    crash_trial "revert, SIGKILL at a random moment" "" lp_uptime revert reverted $((RANDOM % 1500))
    state_is lp_uptime reverted || fail "lp_uptime is $(patch_state lp_uptime) after the apply/revert trials"

    # lp_replace applied again over lp_modobj: the replace, cut at each step; lp_modobj comes
    # back after each, so the order boot 2 re-applies stays lp_replace, then lp_modobj.
    local spec
    for spec in backend.load.after engine.record.before-save:2 backend.unload.before; do
        lp revert lp_replace >/dev/null || fail "lpclient revert lp_replace exits $?"
        crash_trial "replace, failpoint $spec" "$spec" lp_replace apply applied
        state_is lp_modobj superseded || fail "lp_modobj is $(patch_state lp_modobj) after lp_replace was applied again"
        module_loaded lp_modobj && fail "superseded lp_modobj still loaded"
        lp apply lp_modobj >/dev/null || fail "lpclient apply lp_modobj exits $?"
    done
    rm -f "$CRASH_TRACE"
    emit "INFO crash injection (VM): $crash_trials trials, $crash_violations invariant violations"
    ((crash_violations == 0)) || fail "$crash_violations of $crash_trials crash trials broke an invariant (see the INFO lines)"
}
