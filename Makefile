# The README's two commands are `make study` and `make test`.
# The release build uses this machine's CPU features; results do not depend on them
# (every fused multiply-add in the code is written explicitly).
SWIFT ?= swift
NATIVE := -Xswiftc -target-cpu -Xswiftc native -Xswiftc -DATTNPREC_NATIVE
RELEASE := -c release $(NATIVE)
BIN = $(shell $(SWIFT) build $(RELEASE) --show-bin-path 2>/dev/null)/attnprec

.PHONY: deps build study test bench
deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build $(RELEASE) --product attnprec

# The main job: the default study (experiments/default.yaml) into reports/default/.
study: build
	$(BIN) run experiments/default.yaml --out reports/default
	@echo "open reports/default/report.md"

# One release build serves the tests and the binary they drive (-enable-testing lets the
# tests use @testable imports in release mode).
test: deps
	$(SWIFT) test $(RELEASE) -Xswiftc -enable-testing

bench: build
	$(BIN) bench formats
