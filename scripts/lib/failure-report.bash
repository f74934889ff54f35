# Sourced by the bash scripts of the build and the test tiers: a failing command never ends a
# script unexplained. Each script names what it is doing with `step`; when a command fails
# under errexit, the report says which step, which command, its exit status and line, and what
# to do about it.
#
#   source "$repo/scripts/lib/failure-report.bash"
#   failure_report_init "setup.sh"
#   step "installing qemu" "check the apt sources and run Tests/VM/setup.sh again"
#
# Inside $(...) or a ( ) subshell the trap stays quiet: the command that ran the subshell fails
# in its turn and is reported once, by the script itself.

failure_report_program=${0##*/}
failure_report_step="starting"
failure_report_hint=""

failure_report_init() {  # PROGRAM
    failure_report_program=$1
    set -E
    trap 'failure_report $? $LINENO "$BASH_COMMAND"' ERR
}

step() {  # WHAT [WHAT TO DO WHEN IT FAILS]
    failure_report_step=$1
    failure_report_hint=${2:-}
}

failure_report() {  # STATUS LINE COMMAND
    ((BASH_SUBSHELL == 0)) || return 0
    echo "$failure_report_program: FAILED while $failure_report_step: \`$3\` exited $1 (line $2)" >&2
    [[ -z $failure_report_hint ]] || echo "$failure_report_program: what to do: $failure_report_hint" >&2
}
