# Shortcuts; scripts/ holds the real commands (they install what they need).
.PHONY: build test demo bench fmt lint clean fuzz

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
