#!/bin/sh
# Builds the libFuzzer targets (Fuzz/, a package of its own, in .build-fuzz) and runs each for a
# while on a copy of its seed corpus, with AddressSanitizer.
#
#   scripts/fuzz.sh [TARGET...] [--time SECONDS]
#
# TARGET is manifest, varlink or config (default: all three); SECONDS is per target (default 60).
# Prints per target `fuzz TARGET: N execs, N crashes, T s`, then a total line with the build and
# run times. A crash, leak, timeout or out-of-memory stops that target: its input is kept under
# .build-fuzz/artifacts/TARGET/ and its path printed, and the script exits 1. New corpus entries
# go to a temporary copy, never into Fuzz/corpus/.
set -eu
cd "$(dirname "$0")/.."

time_per_target=60
targets=""
while [ $# -gt 0 ]; do
    case "$1" in
        --time) time_per_target=${2:?--time needs a number of seconds}; shift 2 ;;
        --time=*) time_per_target=${1#--time=}; shift ;;
        manifest | varlink | config) targets="$targets $1"; shift ;;
        -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown argument '$1' (targets: manifest varlink config; --time SECONDS)" >&2; exit 2 ;;
    esac
done
targets=${targets:-manifest varlink config}
case "$time_per_target" in '' | *[!0-9]*) echo "fuzz.sh: --time must be whole seconds" >&2; exit 2 ;; esac

scratch=.build-fuzz
mkdir -p "$scratch/logs"
start=$(date +%s)
if ! swift build --package-path Fuzz --scratch-path "$scratch" > "$scratch/logs/build.log" 2>&1; then
    tail -n 30 "$scratch/logs/build.log"
    echo "fuzz build: failed (full log: $scratch/logs/build.log)"
    exit 1
fi
bin=$(swift build --package-path Fuzz --scratch-path "$scratch" --show-bin-path)
build_seconds=$(($(date +%s) - start))
echo "fuzz build: $build_seconds s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# Swift's own crash reporter would run under ASan and trip it; libFuzzer reports the trap itself.
SWIFT_BACKTRACE=enable=no
LSAN_OPTIONS=suppressions=$(pwd)/Fuzz/lsan-suppressions.txt
export SWIFT_BACKTRACE LSAN_OPTIONS

failed=0
total_execs=0
total_crashes=0
run_start=$(date +%s)
for target in $targets; do
    leaks=1
    case "$target" in
        manifest) executable=ManifestFuzzer ;;
        varlink) executable=VarlinkFuzzer ;;
        # TOMLKit leaks on every parse (Fuzz/lsan-suppressions.txt), so libFuzzer would run a
        # leak check after nearly every input: 30 times fewer executions for nothing.
        config) executable=ConfigFuzzer; leaks=0 ;;
    esac
    corpus="$work/$target"
    cp -R "Fuzz/corpus/$target" "$corpus"
    artifacts="$scratch/artifacts/$target"
    mkdir -p "$artifacts"
    log="$scratch/logs/$target.log"
    target_start=$(date +%s)
    status=0
    # -timeout: one input taking this long is a hang (the parsers take microseconds).
    "$bin/$executable" "$corpus" -dict="Fuzz/dict/$target.dict" -max_total_time="$time_per_target" \
        -timeout=10 -rss_limit_mb=2048 -detect_leaks="$leaks" -print_final_stats=1 -artifact_prefix="$artifacts/" \
        > "$log" 2>&1 || status=$?
    seconds=$(($(date +%s) - target_start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    execs=${execs:-0}
    crashes=0
    [ "$status" -eq 0 ] || crashes=1
    echo "fuzz $target: $execs execs, $crashes crashes, $seconds s"
    total_execs=$((total_execs + execs))
    total_crashes=$((total_crashes + crashes))
    if [ "$status" -ne 0 ]; then
        failed=1
        input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        grep -E 'invariant broken|Fatal error|Assertion|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|SUMMARY' "$log" \
            | head -n 5 | sed 's/^/  /'
        if [ -n "$input" ]; then
            echo "  input kept: $input"
            echo "  reproduce: SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=$LSAN_OPTIONS $bin/$executable $input"
        fi
        echo "  log: $log"
    fi
done
run_seconds=$(($(date +%s) - run_start))
echo "fuzz: $(echo $targets | wc -w) targets, $total_execs execs, $total_crashes crashes, build $build_seconds s, run $run_seconds s"
exit "$failed"
