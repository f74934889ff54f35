# Shortcuts; scripts/ holds the real commands (they install what they need).
.PHONY: build test demo bench fmt lint clean

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
	rm -rf .build

bench:
	scripts/bench-lpclient.sh
