# The README's two commands are `make study` and `make test`; `make gate` runs every budgets
# file of experiments/budgets (the CI gate, minutes).
# The release build uses this machine's CPU features; results do not depend on them
# (every fused multiply-add in the code is written explicitly).
SWIFT ?= swift
NATIVE := -Xswiftc -target-cpu -Xswiftc native -Xswiftc -DATTNPREC_NATIVE
RELEASE := -c release $(NATIVE)
BIN = $(shell $(SWIFT) build $(RELEASE) --show-bin-path 2>/dev/null)/attnprec

.PHONY: deps build study test bench gate
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

bench: build
	$(BIN) bench formats

# Every budgets file (one per family, 32k tokens): JUnit XML beside each under .build/budgets/.
gate: build
	@status=0; for f in experiments/budgets/*.yaml; do \
	  $(BIN) validate $$f --junit .build/budgets/$$(basename $$f .yaml).junit.xml || status=$$?; \
	done; exit $$status
