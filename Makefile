# Shortcuts; scripts/ holds the real commands (they install what they need).
.PHONY: build test demo bench release-flags fmt lint clean crash fuzz fresh-check build-release man completions install install-files deb

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

# Every row of issue 12's table against its yardstick, as JSON too (.build/bench/results.json);
# flags a regression over 20 %. BENCH_ARGS passes options on, e.g. BENCH_ARGS="--bundles 200".
bench:
	LIVEPATCHD_RELEASE_FLAGS="$(RELEASE_FLAGS)" scripts/bench.sh $(BENCH_ARGS)

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

# --- Installing: make install DESTDIR= PREFIX= -----------------------------------------------
# Release binaries with the Swift runtime linked in (a host needs no Swift toolchain to run
# them), man pages generated from the argument parsers, shell completions, the units with
# this PREFIX's paths, the catalog, the config file (never over an existing one) and the docs.
# debian/rules runs the same targets with Debian's paths.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/livepatchd
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
CATALOGDIR ?= $(PREFIX)/lib/systemd/catalog
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

# Installed stripped: symbols are a third or more of each binary (livepatchd 120 MB, 71 MB stripped).
# debian/rules installs unstripped and leaves it to dh_strip, which honours DEB_BUILD_OPTIONS=nostrip.
INSTALL_PROGRAM ?= install -s

# Full RELRO and immediate binding, as Debian's hardening flags ask of every binary.
RELEASE_FLAGS = -c release --static-swift-stdlib -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
RELEASE_BIN = $(shell swift build $(RELEASE_FLAGS) --show-bin-path)
GENERATED = .build/install
# The man pages' date: the last commit's (SOURCE_DATE_EPOCH under dpkg-buildpackage), so that
# two builds of one commit make the same pages.
MAN_DATE = $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)} +%Y-%m-%d)

build-release:
	swift build $(RELEASE_FLAGS)

# For scripts that build as the package does (scripts/bench.sh).
release-flags:
	@echo $(RELEASE_FLAGS)

# generate-manual (swift-argument-parser's plugin) reads each tool's --experimental-dump-help and
# writes mdoc. The plugin builds the package first: in debug, which the tests have built already
# (a release build for it would be a second full one, minutes on two cores). livepatchd's page is
# then made again, with the same tool, in section 8.
man:
	swift package --disable-sandbox plugin generate-manual --configuration debug --date $(MAN_DATE)
	rm -rf $(GENERATED)/man && mkdir -p $(GENERATED)/man
	cp .build/plugins/GenerateManual/outputs/lpclient/lpclient.1 .build/plugins/GenerateManual/outputs/lpbundle/lpbundle.1 $(GENERATED)/man/
	tool=$$(find .build -name generate-manual-tool -type f -perm -u+x | head -1) && \
		$$tool $$(swift build --show-bin-path)/livepatchd --section 8 --date $(MAN_DATE) --output-directory $(GENERATED)/man
	# mdoc wants a paragraph macro where the help text has a blank line (groff warns otherwise).
	sed -i 's/^$$/.Pp/' $(GENERATED)/man/lpclient.1 $(GENERATED)/man/lpbundle.1 $(GENERATED)/man/livepatchd.8
	cp docs/man/livepatchd.toml.5 $(GENERATED)/man/

# bash-completion sources these files: a #! line would only mislead.
completions: build-release
	rm -rf $(GENERATED)/completions && mkdir -p $(GENERATED)/completions
	for tool in lpclient lpbundle; do \
		$(RELEASE_BIN)/$$tool --generate-completion-script bash | sed '1{/^#!/d}' >$(GENERATED)/completions/$$tool.bash && \
		$(RELEASE_BIN)/$$tool --generate-completion-script zsh >$(GENERATED)/completions/_$$tool && \
		$(RELEASE_BIN)/$$tool --generate-completion-script fish >$(GENERATED)/completions/$$tool.fish || exit 1; \
	done

install: build-release man completions install-files
	@if [ -z "$(DESTDIR)" ]; then \
		echo "installed; now: systemctl daemon-reload && journalctl --update-catalog && systemctl enable --now livepatchd"; \
	fi

# What `install` copies, from what the targets above made.
install-files:
	$(INSTALL_PROGRAM) -D -m 0755 $(RELEASE_BIN)/livepatchd $(DESTDIR)$(SBINDIR)/livepatchd
	$(INSTALL_PROGRAM) -D -m 0755 $(RELEASE_BIN)/lpclient $(DESTDIR)$(BINDIR)/lpclient
	$(INSTALL_PROGRAM) -D -m 0755 $(RELEASE_BIN)/lpbundle $(DESTDIR)$(BINDIR)/lpbundle
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/livepatchd.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/livepatchd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/livepatchd.service
	install -m 0644 systemd/livepatchd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/livepatchd.socket
	install -D -m 0644 systemd/livepatchd.catalog $(DESTDIR)$(CATALOGDIR)/livepatchd.catalog
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/livepatchd/keys
	[ -e $(DESTDIR)$(SYSCONFDIR)/livepatchd/livepatchd.toml ] || \
		install -m 0644 config/livepatchd.toml $(DESTDIR)$(SYSCONFDIR)/livepatchd/livepatchd.toml
	install -D -m 0644 $(GENERATED)/man/lpclient.1 $(DESTDIR)$(MANDIR)/man1/lpclient.1
	install -D -m 0644 $(GENERATED)/man/lpbundle.1 $(DESTDIR)$(MANDIR)/man1/lpbundle.1
	install -D -m 0644 $(GENERATED)/man/livepatchd.8 $(DESTDIR)$(MANDIR)/man8/livepatchd.8
	install -D -m 0644 $(GENERATED)/man/livepatchd.toml.5 $(DESTDIR)$(MANDIR)/man5/livepatchd.toml.5
	install -D -m 0644 $(GENERATED)/completions/lpclient.bash $(DESTDIR)$(BASHCOMPDIR)/lpclient
	install -D -m 0644 $(GENERATED)/completions/lpbundle.bash $(DESTDIR)$(BASHCOMPDIR)/lpbundle
	install -D -m 0644 $(GENERATED)/completions/_lpclient $(DESTDIR)$(ZSHCOMPDIR)/_lpclient
	install -D -m 0644 $(GENERATED)/completions/_lpbundle $(DESTDIR)$(ZSHCOMPDIR)/_lpbundle
	install -D -m 0644 $(GENERATED)/completions/lpclient.fish $(DESTDIR)$(FISHCOMPDIR)/lpclient.fish
	install -D -m 0644 $(GENERATED)/completions/lpbundle.fish $(DESTDIR)$(FISHCOMPDIR)/lpbundle.fish
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 docs/operator-guide.md $(DESTDIR)$(DOCDIR)/operator-guide.md
	install -D -m 0644 config/livepatchd.toml $(DESTDIR)$(DOCDIR)/examples/livepatchd.toml

# The Debian package, built the ordinary way (dpkg-buildpackage -us -uc -b), then lintian;
# scripts/build-deb.sh says where the .deb went.
deb:
	scripts/build-deb.sh
