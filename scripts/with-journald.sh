#!/bin/bash
# with-journald.sh CMD [ARGS...]
#
# Runs CMD next to a real, private systemd-journald, so a test can prove what a
# program wrote to the journal on a host whose PID 1 is not systemd.
#
#   sudo scripts/with-journald.sh sh -c 'my-program; journalctl -o json MESSAGE_ID=...'
#
# How: in a private mount namespace (unshare -m --propagation private) tmpfs is
# mounted over /run/systemd and /run/log, systemd-journald is started with a
# volatile, unthrottled configuration, and CMD runs once its socket
# /run/systemd/journal/socket exists. Inside, sd_journal_sendv, systemd-cat and
# journalctl all talk to that journald; the host's journal (if any) and its
# /run are untouched, and everything vanishes when CMD exits.
#
# Exit status: CMD's; 125 when the private journald cannot be set up (not root,
# no unshare or systemd-journald, socket did not appear in time).
#
# journald takes entries asynchronously: before reading what CMD just wrote,
# run `journalctl --sync` (this script has journald answer it) or retry
# journalctl until the entry appears.
#
# Environment:
#   WITH_JOURNALD_TIMEOUT  seconds to wait for journald's socket (default 10)
#   WITH_JOURNALD_LOG      file receiving journald's own stderr (default: discarded)
set -euo pipefail

journald=${SYSTEMD_JOURNALD:-/lib/systemd/systemd-journald}
socket=/run/systemd/journal/socket

fail() {
    echo "with-journald: $*" >&2
    exit 125
}

[[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 64; }

if [[ ${WITH_JOURNALD_INNER:-} != 1 ]]; then
    [[ $(id -u) -eq 0 ]] || fail "must run as root (mounts tmpfs in a private mount namespace)"
    command -v unshare >/dev/null || fail "unshare not found (util-linux)"
    [[ -x $journald ]] || fail "$journald not found (package systemd)"
    WITH_JOURNALD_INNER=1 exec unshare -m --propagation private -- "$0" "$@"
fi

# From here on: inside the private mount namespace; mounts disappear with it.
mount -t tmpfs -o mode=0755 tmpfs /run/systemd || fail "cannot mount tmpfs on /run/systemd"
mkdir -p /run/log
mount -t tmpfs -o mode=0755 tmpfs /run/log || fail "cannot mount tmpfs on /run/log"
mkdir -p /run/systemd/journal /run/systemd/with-journald

# Volatile so the host's /var/log/journal is never written; no kmsg so the host
# kernel's messages do not flood the test journal; no rate limit so a burst of
# test entries is never dropped.
conf=/run/systemd/with-journald/journald.conf
cat >"$conf" <<'CONF'
[Journal]
Storage=volatile
ReadKMsg=no
RateLimitIntervalSec=0
RateLimitBurst=0
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
CONF
if [[ -e /etc/systemd/journald.conf ]]; then
    mount --bind "$conf" /etc/systemd/journald.conf
fi
if [[ -d /etc/systemd/journald.conf.d ]]; then
    mount -t tmpfs tmpfs /etc/systemd/journald.conf.d
fi
# journald names its journal directory after the machine id and refuses to run without one.
if [[ ! -s /etc/machine-id ]]; then
    tr -d '-' </proc/sys/kernel/random/uuid >/run/systemd/with-journald/machine-id
    touch /etc/machine-id 2>/dev/null || fail "/etc/machine-id is missing and cannot be created"
    mount --bind /run/systemd/with-journald/machine-id /etc/machine-id
fi

"$journald" 2>>"${WITH_JOURNALD_LOG:-/dev/null}" &
journald_pid=$!

stop_journald() {
    kill -TERM "$journald_pid" 2>/dev/null || true
    wait "$journald_pid" 2>/dev/null || true
}
trap stop_journald EXIT

deadline=$((SECONDS + ${WITH_JOURNALD_TIMEOUT:-10}))
until [[ -S $socket ]]; do
    kill -0 "$journald_pid" 2>/dev/null || fail "systemd-journald exited before creating $socket"
    ((SECONDS < deadline)) || fail "systemd-journald did not create $socket within ${WITH_JOURNALD_TIMEOUT:-10}s"
    sleep 0.05
done

unset WITH_JOURNALD_INNER
status=0
"$@" || status=$?
exit "$status"
