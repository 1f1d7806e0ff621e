# ServiceRadar developer entry points. `make help` lists them.
# The two that matter on a fresh machine: `make run` (the whole stack on this host) and
# `make test` (everything CI runs). Both install what they need and are idempotent.

SHELL := /bin/bash
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 20
export SR_CACHE ?= $(HOME)/.cache/serviceradar
export SR_NATS_SERVER ?= $(SR_CACHE)/rootfs-trixie/usr/sbin/nats-server
export SR_TEST_PG ?= host=127.0.0.1 port=55432 user=postgres dbname=postgres

.PHONY: help deps devdb devdb-stop model model-gpu build build-asan web generate check-generated check test test-unit \
        test-web test-valgrind test-asan test-e2e test-e2e-asan fuzz run bench-ingest bench-agent bench-search bench-embed bench-distribute bench-scan clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

deps: ## install the Debian packages the build and tests need (idempotent)
	@scripts/deps.sh

devdb: deps ## create (once) and start the dev PostgreSQL 17 on 127.0.0.1:55432
	@scripts/devdb.sh start

devdb-stop: ## stop the dev database
	@scripts/devdb.sh stop

model: deps ## fetch and verify the embedding model and ONNX Runtime into $SR_CACHE/embed (idempotent)
	@scripts/model.sh

model-gpu: deps ## also fetch ONNX Runtime with the CUDA provider (300 MB) into $SR_CACHE/embed/ort-gpu
	@scripts/model.sh --gpu

# The options are passed on every build (a second of cmake), so a build tree configured before an
# option existed gets it too. Test builds have the fault-injection hooks (never a release build).
BUILD_OPTS = -DSR_WERROR=ON -DSR_FAULT_INJECTION=ON

build: deps model ## build everything into build/ (binaries in build/bin)
	cmake -S . -B $(BUILD) -G Ninja $(BUILD_OPTS) >/dev/null
	ninja -C $(BUILD) -j$(JOBS)

build-asan: deps model ## build with ASan + UBSan (clang) into build-asan/, fuzzers included
	CC=clang cmake -S . -B $(BUILD_ASAN) -G Ninja $(BUILD_OPTS) -DSR_SANITIZE=ON -DSR_FUZZ=ON >/dev/null
	ninja -C $(BUILD_ASAN) -j$(JOBS)

web: deps ## build the web UI into web/dist
	@scripts/web.sh build

generate: ## regenerate protobuf-c code (committed) and the web API client
	cd proto && rm -rf gen && mkdir gen && protoc-c --c_out=gen serviceradar/agent/v1/agent.proto
	@scripts/web.sh generate

check-generated: ## fail when generated code differs from what `make generate` makes
	@scripts/check-generated.sh

test-web: deps ## web UI: type checks, vitest unit tests, generated API client up to date
	@scripts/web.sh check

check: build ## static checks: banned functions, hardening of the binaries, sample configs, cppcheck
	@scripts/check-src.sh $(BUILD)

test-unit: build devdb ## unit + integration tests (ctest) in the normal build
	ctest --test-dir $(BUILD) --output-on-failure -j2

test-valgrind: build ## every unit test under valgrind memcheck
	@scripts/valgrind.sh $(BUILD)

test-asan: build-asan devdb ## the same suite under ASan + UBSan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -j2

test-e2e: build devdb web ## end-to-end: the three binaries as processes, faults, and the browser test
	python3 -m pytest -v tests/e2e

test-e2e-asan: build-asan devdb web ## the end-to-end suite again with the ASan + UBSan binaries
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  SR_BUILD=$(BUILD_ASAN) python3 -m pytest -v tests/e2e

fuzz: build-asan ## run each libFuzzer target for FUZZ_SECONDS on a copy of its corpus
	@scripts/fuzz.sh $(BUILD_ASAN) $(FUZZ_SECONDS)

test: check-generated check test-web test-unit test-valgrind test-asan fuzz test-e2e test-e2e-asan ## everything CI runs
	@echo "make test: all suites passed"

run: build devdb web ## run the whole stack on this host (Ctrl-C stops it)
	@scripts/run.sh $(BUILD)

bench-ingest: build devdb ## benchmark: simulated agents -> gateway -> JetStream -> core -> PostgreSQL
	@scripts/bench-ingest.sh $(BUILD)

bench-agent: build devdb ## benchmark: the agent's idle footprint over 2 minutes
	@scripts/bench-agent.sh $(BUILD)

bench-search: build devdb ## benchmark: 10M realistic events -> JetStream -> core -> PostgreSQL, then SRQL queries
	@scripts/bench-search.sh $(BUILD)

bench-scan: build devdb ## benchmark: a full root filesystem scan by the agent against the trivy CLI (same module, same DB)
	@scripts/bench-scan.sh $(BUILD)

bench-embed: build ## benchmark: sentence embeddings on this machine's CPU (or GPU), batch 1/32/256
	@scripts/bench-embed.sh $(BUILD)

bench-distribute: build ## benchmark: a 100 MB Trivy DB bundle from the gateway to 10 agents over loopback, each verified and installed
	@scripts/bench-distribute.sh $(BUILD)

clean: ## remove build trees
	rm -rf $(BUILD) $(BUILD_ASAN) web/dist
