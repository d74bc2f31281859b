# ScheduleZero — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
STATICCHECK_VERSION ?= v0.8.2
PKGS := ./...
TEST_TIMEOUT ?= 9m

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Targets:\n"} /^[a-zA-Z0-9_\/-]+:.*##/ { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every binary into ./bin
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: run
run: build ## Run a local 3-node cluster through the governor with a demo schedule (Ctrl-C stops it)
	BIN=$(BIN) ./scripts/run-local.sh

.PHONY: run/dev
run/dev: build ## Run a single --dev node on 127.0.0.1:8888
	$(BIN)/schedulezero --dev

.PHONY: test
test: ## Run all tests (what CI runs): unit, golden, in-process cluster, multi-process, short Jepsen-style run
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
	$(MAKE) test/jepsen-short
	$(MAKE) test/jepsen-handlers

.PHONY: test/race
test/race: ## Run the fast packages with the race detector
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./fsm/... ./trigger/... ./api/... ./client/... ./internal/... ./server/...

# Jepsen-style runs (jepsen-style-tests/ is its own Go module; see docs/testing.md).
JEPSEN_DURATION ?= 5m
JEPSEN_SEED ?=
JEPSEN_NEMESES ?= all
JEPSEN_SHORT_SEED ?= 1
JEPSEN_SHORT_DURATION ?= 60s
JEPSEN_SHORT_NEMESES ?= kill-leader,pause-leader,partition-leader,partition-one-way,membership,kill-handler,pause-handler

.PHONY: jepsen
jepsen: ## Jepsen-style run on a real 3-node cluster (JEPSEN_DURATION=5m, JEPSEN_SEED=random, JEPSEN_NEMESES=all)
	cd jepsen-style-tests && $(GO) test -count=1 -timeout 90m -v -run 'TestJepsen$$' . \
		-jepsen.seed=$(JEPSEN_SEED) -jepsen.duration=$(JEPSEN_DURATION) -jepsen.nemeses=$(JEPSEN_NEMESES)

.PHONY: test/jepsen-short
test/jepsen-short: ## Short Jepsen-style run for CI: fixed seed, 60 s of faults, about 75 s in all
	cd jepsen-style-tests && $(GO) test -count=1 -timeout 6m -v . \
		-jepsen.seed=$(JEPSEN_SHORT_SEED) -jepsen.duration=$(JEPSEN_SHORT_DURATION) -jepsen.nemeses=$(JEPSEN_SHORT_NEMESES)

.PHONY: test/jepsen-handlers
test/jepsen-handlers: ## Short Jepsen-style run with handler faults only (SIGSTOP, cut off the leader): about 45 s
	cd jepsen-style-tests && $(GO) test -count=1 -timeout 5m -v -run 'TestJepsen$$' . \
		-jepsen.seed=5 -jepsen.duration=35s -jepsen.nemeses=pause-handler,partition-handler

.PHONY: fuzz
fuzz: ## Run every fuzz test for FUZZTIME each (default 20s)
	@for spec in "./fsm FuzzDecodeApply" "./fsm FuzzRestore" "./fsm FuzzDecode_Fast" "./fsm FuzzEncode_Fast" "./trigger FuzzCompile" \
		"./api FuzzDecodeSchedule" "./api FuzzDecodeBatch" "./wire FuzzDecode" "./wire FuzzAppendEncode" "./transport FuzzZMTPScanner" "./internal/jsonquote FuzzAppend"; do \
		set -- $$spec; $(GO) test $$1 -run='^$$' -fuzz="^$$2$$" -fuzztime=$${FUZZTIME:-20s} || exit 1; done

# make bench: the Go benchmarks of every package that has some (short
# benchtime), then szbench --short: every scenario on a local 3-node cluster
# (throughput, latency, failover, scale; see internal/bench). The JSON
# report goes to bench.json, the human summary to the terminal. About 5
# minutes on 2 cores; not part of make test. SZBENCH_FLAGS adds flags
# (e.g. SZBENCH_FLAGS='--raft-profile fast').
BENCHTIME ?= 100ms
BENCH_PKGS = $$(grep -rl --include='*_test.go' -e '^func Benchmark' --exclude-dir=jepsen-style-tests . | xargs -r -n1 dirname | sort -u)
SZBENCH_FLAGS ?=

.PHONY: bench
bench: build ## Go benchmarks (short), then bin/szbench --scenario all --short -o json > bench.json (about 5 min)
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) $(BENCH_PKGS)
	$(BIN)/szbench --scenario all --short -o json $(SZBENCH_FLAGS) > bench.json
	@echo "szbench report: bench.json"

.PHONY: bench/go
bench/go: ## Only the Go benchmarks of the hot paths (short benchtime)
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) $(BENCH_PKGS)

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

.PHONY: tidy
tidy: ## go mod tidy
	$(GO) mod tidy

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BIN)
