# The README's two commands are `make study` and `make test`.
# The release build uses this machine's CPU features; results do not depend on them
# (every fused multiply-add in the code is written explicitly).
SWIFT ?= swift
NATIVE := -Xswiftc -target-cpu -Xswiftc native -Xswiftc -DATTNPREC_NATIVE
RELEASE := -c release $(NATIVE)
BIN = $$($(SWIFT) build $(RELEASE) --show-bin-path)/attnprec

.PHONY: deps build study test bench
deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build $(RELEASE) --product attnprec

study: build
	$(BIN) run

test: deps
	$(SWIFT) build $(RELEASE) --product attnprec
	$(SWIFT) test $(RELEASE)

bench: build
	$(BIN) bench formats
