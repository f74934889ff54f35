#!/bin/bash
# The README's two commands on a machine where nothing they install is installed yet.
#
#   sudo scripts/fresh-machine-check.sh           # shows what it would remove, and stops
#   sudo scripts/fresh-machine-check.sh --yes     # removes it, then runs the check
#
# !! THIS REMOVES PACKAGES. It is meant for throw-away machines (a CI worker, a scratch VM). !!
#
# 1. Removes (apt-get purge) what the scripts install: the packages of scripts/install-deps.sh
#    and Tests/VM/setup.sh, the linux-image/linux-headers-6.1.0-* they added, the packages only
#    those pulled in, and /var/cache/livepatchd. It keeps what Debian marks essential or
#    required, what the Swift toolchain itself needs (swift.org's list for Debian 12), the
#    running kernel, and any package whose removal would take with it a package installed on
#    purpose (it says which and why).
# 2. Clones this repository's HEAD into a temporary directory (uncommitted changes are not in it).
# 3. Runs `CI=true bash .ci/run` there: the README's test command, as CI runs it.
# 4. Runs `scripts/demo.sh` there until the daemon is ready, then `lpclient status` once.
# Prints each step's time, the test run's closing lines and the total time; exits 0 when the
# test run and `lpclient status` both exit 0.
#
# Environment: FRESH_CHECK_READY_TIMEOUT  seconds the demo may take to be ready (default 900)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/failure-report.bash
source "$repo/scripts/lib/failure-report.bash"
failure_report_init fresh-machine-check

log() { echo "fresh-machine-check: $*" >&2; }

confirmed=0
case "${1:-}" in
    --yes) confirmed=1 ;;
    "") ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown argument '$1' (--yes to run, --help)"; exit 64 ;;
esac
[[ $(id -u) -eq 0 ]] || { log "must run as root (it removes and installs packages): sudo $0 ${1:-}"; exit 1; }

# The Swift toolchain's own prerequisites on Debian 12 (swift.org/install): a new machine
# with Swift has them, so the check keeps them.
toolchain_packages="binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3-dev
    libsqlite3-0 libstdc++-12-dev libxml2-dev libncurses-dev libz3-dev pkg-config python3-lldb-13 tzdata unzip zlib1g-dev"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
field() { dpkg-query -W -f="\${$2}" "$1" 2>/dev/null || true; }
# The packages `apt-get purge [--autoremove]` would remove with the ones named; fails when apt
# cannot remove them without breaking another package.
purge_set() {
    local plan
    plan=$(apt-get -s purge "$@" 2>&1) || { echo "$plan" | grep -E '^ |^E:' | head -3 >&2; return 1; }
    awk '$1 == "Purg" { sub(":.*", "", $2); print $2 }' <<<"$plan" | sort -u
}

step "listing what the scripts install" "scripts/install-deps.sh --list and Tests/VM/setup.sh --list-packages must work"
running_kernel_image=linux-image-$(uname -r)
wanted=$("$repo/scripts/install-deps.sh" --list; "$repo/Tests/VM/setup.sh" --list-packages)
kernels=$(dpkg-query -W -f='${Package}\n' 'linux-image-6.1.0-*' 'linux-headers-6.1.0-*' 'linux-kbuild-6.1*' 2>/dev/null || true)

declare -A candidate=()
kept=()
for package in $wanted $kernels; do
    installed "$package" || continue
    if [[ $package == "$running_kernel_image" ]]; then
        kept+=("$package (the running kernel)")
    elif [[ $(field "$package" Essential) == yes || $(field "$package" Priority) == required ]]; then
        kept+=("$package (Debian marks it $(field "$package" Priority))")
    elif [[ " $(echo $toolchain_packages) " == *" $package "* ]]; then
        kept+=("$package (the Swift toolchain needs it)")
    elif [[ $package == systemd && -d /run/systemd/system ]]; then
        kept+=("systemd (it is PID 1 here)")
    else
        candidate[$package]=1
    fi
done
# Keep any candidate whose removal would take with it a package installed on purpose (not a
# candidate, not marked automatically installed); repeat, since keeping one can make another's
# removal reach further.
declare -A automatic=()
for package in $(apt-mark showauto); do automatic[${package%%:*}]=1; done
changed=1
while ((changed)); do
    changed=0
    for package in "${!candidate[@]}"; do
        if ! gone_with=$(purge_set "$package" 2>/dev/null); then
            unset "candidate[$package]"
            kept+=("$package (apt cannot remove it without breaking another package)")
            changed=1
            continue
        fi
        for gone in $gone_with; do
            if [[ -z ${candidate[$gone]:-} && -z ${automatic[$gone]:-} ]]; then
                unset "candidate[$package]"
                kept+=("$package (removing it would also remove $gone)")
                changed=1
                break
            fi
        done
    done
done
removing=("${!candidate[@]}")

echo "== fresh-machine check: THIS REMOVES PACKAGES (for throw-away machines only) =="
if ((${#removing[@]})); then
    echo "purges: ${removing[*]}"
    echo "with what only they pulled in, in all (apt-get purge --autoremove):"
    purge_set --autoremove "${removing[@]}" | tr '\n' ' ' | fold -s -w 100 | sed 's/^/    /'
    echo
else
    echo "purges: nothing (none of the scripts' packages is installed)"
fi
for reason in "${kept[@]}"; do echo "keeps: $reason"; done
echo "removes: /var/cache/livepatchd (downloads, the VM rootfs, the varlink venv)"
if ((!confirmed)); then
    echo "Nothing was changed. Run it again with --yes to remove these and run the check."
    exit 0
fi

started=$SECONDS
since() { local s=$((SECONDS - $1)); echo "$((s / 60)) min $((s % 60)) s"; }

step "removing the packages" "apt-get's error is above; fix it (dpkg --configure -a) and run the check again"
# Marked manual first, so that autoremove cannot take the toolchain's packages along.
# shellcheck disable=SC2086
apt-mark manual $(for p in $toolchain_packages; do if installed "$p"; then echo "$p"; fi; done) >/dev/null
if ((${#removing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq --autoremove "${removing[@]}" >/dev/null
fi
rm -rf /var/cache/livepatchd
for package in "${removing[@]}"; do
    if installed "$package"; then log "$package is still installed after apt-get purge"; exit 1; fi
done
log "removed ${#removing[@]} packages and /var/cache/livepatchd in $(since "$started")"

step "cloning the repository" "git clone $repo must work"
clone_root=$(mktemp -d /tmp/livepatchd-fresh.XXXXXX)
clone=$clone_root/livepatchd
logs=$clone_root/logs
mkdir -p "$logs"
demo_pid=""
cleanup() {
    if [[ -n $demo_pid ]]; then kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; fi
    [[ -n ${demo_dir:-} ]] && rm -rf "$demo_dir"
    echo "logs and the clone are kept in $clone_root"
}
trap cleanup EXIT
[[ -z $(git -C "$repo" status --porcelain) ]] ||
    log "note: $repo has uncommitted changes; the check runs the committed HEAD ($(git -C "$repo" rev-parse --short HEAD))"
git clone --quiet --no-local "$repo" "$clone"

step "running CI=true bash .ci/run" ""
echo "== CI=true bash .ci/run (in $clone; log: $logs/ci.log) =="
ci_started=$SECONDS
ci_status=0
(cd "$clone" && CI=true bash .ci/run) 2>&1 | tee "$logs/ci.log" || ci_status=$?
ci_time=$(since "$ci_started")

step "running scripts/demo.sh" "its output is in $logs/demo.log"
echo "== scripts/demo.sh until ready, then lpclient status (log: $logs/demo.log) =="
demo_started=$SECONDS
(cd "$clone" && exec scripts/demo.sh) >"$logs/demo.log" 2>&1 &
demo_pid=$!
deadline=$((SECONDS + ${FRESH_CHECK_READY_TIMEOUT:-900}))
until grep -q ' ready: ' "$logs/demo.log"; do
    if ! kill -0 "$demo_pid" 2>/dev/null; then
        log "scripts/demo.sh exited before the daemon was ready; its last lines:"
        tail -20 "$logs/demo.log" >&2
        demo_pid=""
        break
    fi
    if ((SECONDS >= deadline)); then
        log "the demo daemon was not ready after ${FRESH_CHECK_READY_TIMEOUT:-900} s; its last lines:"
        tail -20 "$logs/demo.log" >&2
        break
    fi
    sleep 1
done
demo_time=$(since "$demo_started")
status_status="not run"
demo_dir=$(sed -n 's/^livepatchd demo in \([^ ]*\) .*/\1/p' "$logs/demo.log" | head -1)
if grep -q ' ready: ' "$logs/demo.log"; then
    grep ' ready: ' "$logs/demo.log" | head -1
    bin=$(cd "$clone" && swift build --show-bin-path)
    echo "\$ LIVEPATCHD_SOCKET=$demo_dir/io.livepatchd lpclient status"
    status_status=0
    LIVEPATCHD_SOCKET=$demo_dir/io.livepatchd "$bin/lpclient" status || status_status=$?
fi

echo
echo "== fresh-machine check: closing lines =="
echo "removed: ${removing[*]:-nothing} and /var/cache/livepatchd"
echo "CI=true bash .ci/run: exit $ci_status in $ci_time; its closing lines:"
grep -E '^(tests: |  (failed|skipped): |fuzz: |real-kernel tier|VM tier|  VM tier wall time|[0-9]+ passed, [0-9]+ failed)' \
    "$logs/ci.log" | sed 's/^/    /' || true
echo "scripts/demo.sh: $(if grep -q ' ready: ' "$logs/demo.log"; then echo "ready after $demo_time"; else echo "NOT ready"; fi);" \
    "lpclient status: exit $status_status"
total="$(since "$started")"
if [[ $ci_status == 0 && $status_status == 0 ]]; then
    echo "fresh-machine check: PASSED in $total"
else
    echo "fresh-machine check: FAILED in $total"
    exit 1
fi
