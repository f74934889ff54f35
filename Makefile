# Shortcuts; scripts/ holds the real commands (they install what they need).
.PHONY: build test demo bench fmt lint clean crash fuzz fresh-check

# Seconds per fuzz target: make fuzz FUZZ_TIME=600
FUZZ_TIME ?= 60

build:
	swift build

test:
	scripts/test.sh

demo:
	scripts/demo.sh

fmt:
	swift format --in-place --recursive Sources Tests

lint:
	swift format lint --recursive Sources Tests

clean:
	rm -rf .build .build-fuzz

fuzz:
	scripts/fuzz.sh --time $(FUZZ_TIME)

bench:
	scripts/bench-lpclient.sh

# Crash injection on the simulated kernel: TRIALS kill -9 trials in all (CI runs 200),
# every failpoint of every operation first, then random delays. Prints one line per test:
# `crash injection (apply): N trials, 0 invariant violations; ...`.
TRIALS ?= 2000
crash:
	swift build --build-tests
	LIVEPATCHD_CRASH_TRIALS=$(TRIALS) swift test --skip-build --filter CrashInjectionTests

# THIS REMOVES PACKAGES (throw-away machines only): purges what the scripts install, then runs the
# README's two commands from a clean clone of HEAD. `scripts/fresh-machine-check.sh` alone only
# lists what it would remove.
fresh-check:
	scripts/fresh-machine-check.sh --yes
