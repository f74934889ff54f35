#!/bin/bash
# Runs the scenarios of this boot (the phase file says which), then powers the VM off.
# Started by livepatchd-vm.service once the system is up.
set -uo pipefail
source /opt/livepatchd-vm/lib.sh

phase=$(cat "$VM_DIR/phase")
trap 'systemctl poweroff --no-block' EXIT
stty -F "$RESULTS" raw -echo 2>/dev/null
emit "BEGIN boot $phase $(uname -r) systemd $(systemctl --version | head -1 | cut -d' ' -f2)"
emit "TIMING boot $phase: userspace up after $(cut -d' ' -f1 /proc/uptime) s of uptime"

source "$VM_DIR/boot$phase.sh"

if ((failed > 0)); then
    journalctl -u livepatchd --no-pager -o short-monotonic | tail -60 | while IFS= read -r line; do emit "JOURNAL $line"; done
fi
if [[ $phase == 1 ]]; then
    # The state directory goes to the next boots, as a disk would carry it across a reboot: as
    # the last scenario left it at the moment a crash would have ended the boot (QUARANTINE_STATE,
    # taken with the daemon killed in the middle of a transition), else after a clean stop.
    if [[ -s $QUARANTINE_STATE ]]; then
        state_source="the state directory at the kill (mid-transition)"
        state_archive() { cat "$QUARANTINE_STATE"; }
    else
        state_source="the state directory after systemctl stop (no mid-transition snapshot was taken)"
        systemctl stop livepatchd
        state_archive() { tar -C /var/lib -czf - livepatchd; }
    fi
    emit "INFO boots 2 and 3 start from $state_source"
    emit "STATE-BEGIN"
    state_archive | base64 -w 76 | sed 's/^/STATE /' >>"$RESULTS"
    emit "STATE-END"
    scenario "dpkg -r of the patch package keeps the patch directory; dpkg --purge livepatchd: stopped, nothing left behind" package_purged
fi
emit "END boot $phase: $passed passed, $failed failed"
