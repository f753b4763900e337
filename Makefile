# The README's two commands are `make study` and `make test`; `make gate` runs every budgets
# file of experiments/budgets (the CI gate, minutes).
# The release build uses this machine's CPU features; results do not depend on them
# (every fused multiply-add in the code is written explicitly).
SWIFT ?= swift
NATIVE := -Xswiftc -target-cpu -Xswiftc native -Xswiftc -DATTNPREC_NATIVE
RELEASE := -c release $(NATIVE)
BIN = $(shell $(SWIFT) build $(RELEASE) --show-bin-path 2>/dev/null)/attnprec

# `make portable`: any x86-64-v3 CPU (AVX2, FMA, BMI2, F16C; 2015 on), the Swift runtime linked
# in, its own scratch folder. swiftc 6.3 rejects `-target-cpu x86-64-v3` (its Clang importer knows
# no such CPU), so the level goes in as -march through -Xcc: Swift code generation takes its
# features from the importer, and the C targets get the same. `attnprec --version` shows them.
PORTABLE_SCRATCH ?= .build-portable
PORTABLE_FLAGS := -c release --static-swift-stdlib -Xcc -march=x86-64-v3 -Xswiftc -DATTNPREC_PORTABLE
PORTABLE_BIN = $(shell $(SWIFT) build $(PORTABLE_FLAGS) --scratch-path $(PORTABLE_SCRATCH) --show-bin-path 2>/dev/null)/attnprec

# `make install [PREFIX=…] [DESTDIR=…]` installs the native build as PREFIX/bin/attnprec;
# PORTABLE=1 (or `make install-portable`) installs the portable one.
PREFIX ?= /usr/local
ifeq ($(PORTABLE),1)
INSTALL_FROM := portable
INSTALL_BIN = $(PORTABLE_BIN)
else
INSTALL_FROM := build
INSTALL_BIN = $(BIN)
endif

.PHONY: deps build study test bench gate portable install install-portable check-portable wheel
deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build $(RELEASE) --product attnprec

# The main job: the default study (experiments/default.yaml) into reports/default/; --force
# moves the results already there aside to reports/default.old-N (nothing is deleted).
study: build
	$(BIN) run experiments/default.yaml --out reports/default --force
	@echo "open reports/default/report.md"

# One release build serves the tests and the binary they drive (-enable-testing lets the
# tests use @testable imports in release mode). Then the CI gate end to end on a small
# budgets file (a few seconds), with the binary that build made.
test: deps
	$(SWIFT) test $(RELEASE) -Xswiftc -enable-testing
	$(BIN) validate experiments/budgets/ci-smoke.yaml --junit .build/budgets/ci-smoke.junit.xml
	bash python/run-tests.sh "$(BIN)"

bench: build
	$(BIN) bench formats

# Every budgets file (one per family, 32k tokens): JUnit XML beside each under .build/budgets/.
gate: build
	@status=0; for f in experiments/budgets/*.yaml; do \
	  $(BIN) validate $$f --junit .build/budgets/$$(basename $$f .yaml).junit.xml || status=$$?; \
	done; exit $$status

portable: deps
	$(SWIFT) build $(PORTABLE_FLAGS) --scratch-path $(PORTABLE_SCRATCH) --product attnprec
	@echo "portable binary: $(PORTABLE_BIN)"

install: $(INSTALL_FROM)
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 755 "$(INSTALL_BIN)" "$(DESTDIR)$(PREFIX)/bin/attnprec"
	@echo "installed $(DESTDIR)$(PREFIX)/bin/attnprec"

install-portable:
	$(MAKE) install PORTABLE=1

# The portable and the native binary on the golden study and scenario: results.jsonl must be
# byte-identical, and the portable binary must need no Swift toolchain (scripts/check-portable.sh).
check-portable: build portable
	bash scripts/check-portable.sh "$(BIN)" "$(PORTABLE_BIN)"

# `make wheel`: the Python package as a platform wheel with the portable binary inside
# (python/build-wheel.sh; the wheel lands in python/dist/).
wheel: portable
	bash python/build-wheel.sh "$(PORTABLE_BIN)" python/dist
