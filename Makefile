# OVA — two commands on a fresh Debian 12 machine: `make run` and `make test`.
SWIFT ?= swift
# Extra flags for every swift build/test (e.g. SWIFT_FLAGS="--scratch-path .build-x").
SWIFT_FLAGS ?=
# Tests run in parallel workers; 2 matches the 2-core machines we build on.
TEST_WORKERS ?= 2

.PHONY: all deps build run config-docs test test-swift test-python smoke test-c test-fuzz fuzz check-proto proto release bench bench-store abuse clean help

all: build

help:
	@echo "make run          install missing packages, build, start ova-server on its defaults"
	@echo "make test         install missing packages, build, run every test"
	@echo "make test-c       build the C client (clients/c), run its codec test and example against a server"
	@echo "make test-python  the Python client's conformance suite against a built ova-server"
	@echo "make fuzz         build the libFuzzer targets (Fuzz/), run each for FUZZ_SECONDS (default 60)"
	@echo "make test-fuzz    the same, 4 s per target (part of make test)"
	@echo "make proto        regenerate C, Swift and Python code from proto/ (commit the result)"
	@echo "make check-proto  fail if the committed generated code is stale"
	@echo "make config-docs  regenerate docs/CONFIGURATION.md's settings tables and .env.example from the declarations"
	@echo "make release      optimized build of ova-server, ova, ova-bench"
	@echo "make bench        OVA next to grpc-swift-2 and a bare NIO echo (Benchmarks/compare.sh)"
	@echo "make bench-store  SendMessage and ListMessages next to SQLite's own ceiling (Benchmarks/store-bench.sh)"
	@echo "make abuse        memory and CPU of a release ova-server under hostile clients (not in make test)"
	@echo "make deps         install missing Debian packages (apt-get update only if needed)"

deps:
	@bash scripts/deps.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

run: build
	$(SWIFT) run $(SWIFT_FLAGS) ova-server

# The settings tables of docs/CONFIGURATION.md and .env.example come from
# ServerConfiguration+Settings.swift; ServerConfigurationTests fails when they are stale.
config-docs:
	$(SWIFT) run $(SWIFT_FLAGS) ova-server config generate --root .

release: deps
	$(SWIFT) build $(SWIFT_FLAGS) -c release --product ova-server
	$(SWIFT) build $(SWIFT_FLAGS) -c release --product ova
	$(SWIFT) build $(SWIFT_FLAGS) -c release --product ova-bench

proto: deps
	bash scripts/gen-proto.sh

check-proto: deps
	bash scripts/gen-proto.sh --check

test: deps check-proto test-swift smoke test-c test-python test-fuzz

test-swift:
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build --parallel --num-workers $(TEST_WORKERS)

# The Python client (clients/python) against the real server; venv in .build/pyenv.
test-python: deps
	$(SWIFT) build $(SWIFT_FLAGS) --product ova-server
	SWIFT_FLAGS="$(SWIFT_FLAGS)" bash scripts/test-python.sh

smoke:
	SWIFT_FLAGS="$(SWIFT_FLAGS)" bash scripts/smoke.sh
	OVA_TASKS_ON_EVENT_LOOPS=false SWIFT_FLAGS="$(SWIFT_FLAGS)" bash scripts/smoke.sh

# The C client (clients/c): codec test vs docs/test-vectors, then its example against a real server.
test-c: deps
	SWIFT_FLAGS="$(SWIFT_FLAGS)" bash scripts/test-c.sh

# libFuzzer targets (Fuzz/, docs/SECURITY.md): a separate sanitizer build in Fuzz/.build; crash
# inputs go to .build/fuzz-artifacts/. FUZZ_SECONDS per target; the committed seeds are not modified.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) bash scripts/fuzz.sh

# A short run of every fuzz target (6 x 4 s, plus the build): the seeds and regressions still pass.
test-fuzz: deps
	FUZZ_SECONDS=4 SWIFT=$(SWIFT) bash scripts/fuzz.sh

bench: deps
	bash Benchmarks/compare.sh

# SendMessage and ListMessages through a release ova-server next to SQLite's own ceiling for the
# same statements (Benchmarks/sqlite-ceiling; docs/PERFORMANCE.md, "The database's own ceiling").
bench-store: deps
	bash Benchmarks/store-bench.sh

# Hostile clients against a release ova-server (scripts/abuse.py; docs/PERFORMANCE.md, "Memory and
# CPU under abuse"). Not part of `make test`: it takes about a minute and measures, asserts nothing.
ABUSE_VENV ?= .build/abuse-venv
ABUSE_ARGS ?= all
abuse: deps
	$(SWIFT) build $(SWIFT_FLAGS) -c release --product ova-server
	test -x $(ABUSE_VENV)/bin/python || { python3 -m venv $(ABUSE_VENV) && \
	  $(ABUSE_VENV)/bin/pip install -q --disable-pip-version-check 'protobuf>=4.21,<5'; }
	$(ABUSE_VENV)/bin/python scripts/abuse.py \
	  --server-bin "$$($(SWIFT) build $(SWIFT_FLAGS) -c release --show-bin-path)/ova-server" $(ABUSE_ARGS)

clean:
	rm -rf .build Fuzz/.build
	$(MAKE) -C clients/c clean
