# Duet's entry points: `make run` starts the product, `make test` runs every
# test, `make bench` compares the MPC library native and in the browser.
# `make help` lists the rest. Everything a test needs, make installs itself,
# so the same commands work on a fresh Debian machine and in CI.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

GO ?= go
GO_ROOT := $(shell $(GO) env GOROOT)

# Tools that take minutes to build live outside the work tree, so that a fresh
# clone on the same machine (as CI makes) reuses them.
DUET_CACHE ?= $(if $(HOME),$(HOME),/root)/.cache/duet

ADDR ?= 127.0.0.1:8080
DATA ?= ./data

# Timeouts per test binary; the MPC tests generate Paillier keys, which takes
# a while natively and several times longer in the browser.
TEST_TIMEOUT ?= 30m
WASM_TEST_TIMEOUT ?= 45m

# make mutation: a regexp on the mutated files' paths, the mutants tested at
# once, and an optional file that also receives the report.
MUTATION_PKGS ?=
MUTATION_JOBS ?= 1
MUTATION_OUT ?=
# Tests to run before the whole suite, per mutant: the same verdicts, sooner.
MUTATION_FIRST ?= Config|Guards|Reject|Decode|SingleUse|Spent|PeerMessage|Oracle|Refuses|Wrong|Malformed|Each|Limit|Lockout|Uncommitted|Ack|Eject

BENCH ?= .
BENCHTIME ?=
BENCH_PKG ?= ./mpc
BENCH_TIMEOUT ?= 120m
BENCH_DIR ?= $(DUET_CACHE)/bench

# wasmbrowsertest runs js/wasm test binaries in headless Chromium. It is built
# from the tools module, which pins the chromedp version it talks to Chromium
# with; the cache path carries a hash of that module and of the Go version, so
# any change to either builds a new binary.
WASMBROWSERTEST_VERSION := $(shell awk '$$1 == "github.com/agnivade/wasmbrowsertest" { print $$2 }' tools/go.mod)
TOOLS_KEY := $(shell { cat tools/go.mod tools/go.sum; $(GO) env GOVERSION; } | sha256sum | cut -c1-12)
WASMBROWSERTEST ?= $(DUET_CACHE)/wasmbrowsertest-$(WASMBROWSERTEST_VERSION)-$(TOOLS_KEY)/wasmbrowsertest

# geth runs a local development chain for the end-to-end tests.
GETH_VERSION ?= v1.17.10
GETH ?= $(DUET_CACHE)/geth-$(GETH_VERSION)/geth

# ethers v6, from the npm registry, for the provider's browser tests (which
# check Duet's signatures with ethers and send through its BrowserProvider).
ETHERS_VERSION ?= 6.17.0
DUET_ETHERS_JS ?= $(DUET_CACHE)/npm-ethers-$(ETHERS_VERSION)/node_modules/ethers/dist/ethers.umd.min.js

# The SDK package's test (make test-sdk) builds the example app with Vite and
# type-checks a TypeScript consumer: its npm dependencies, pinned in
# js/test/sdk-deps/package.json, are installed into DUET_CACHE under a key of
# that file, never into the work tree.
SDK_DEPS_KEY := $(shell sha256sum js/test/sdk-deps/package.json | cut -c1-12)
SDK_NPM_DIR ?= $(DUET_CACHE)/npm-sdk-$(SDK_DEPS_KEY)
SDK_DIST ?= js/dist

# wasm_exec.js must come from the same Go release that built duet.wasm; it
# moved from misc/wasm to lib/wasm in Go 1.24.
WASM_EXEC_JS := $(firstword $(wildcard $(GO_ROOT)/lib/wasm/wasm_exec.js $(GO_ROOT)/misc/wasm/wasm_exec.js))

# Packages are listed when a recipe runs, not when the Makefile is read, so
# that they reflect the tree as it is then. Directories that do not exist yet
# are left out, as are packages whose build constraints exclude the target;
# -e keeps packages that fail to load, so that their errors are reported by
# the test run rather than hidden.
WASM_DIRS = $(patsubst %/,%,$(wildcard $(addsuffix /,mpc bridge wasm)))
WASM_PKGS = $(if $(WASM_DIRS),$(shell GOOS=js GOARCH=wasm $(GO) list -e $(addprefix ./,$(addsuffix /...,$(WASM_DIRS))) 2>/dev/null))
NATIVE_PKGS = $(shell $(GO) list -e ./... 2>/dev/null)

# What the tests learn about the machine. Chromium and PostgreSQL are looked up
# only when a recipe runs, after `deps` may have installed them.
export DUET_WASMBROWSERTEST := $(WASMBROWSERTEST)
export DUET_GETH := $(GETH)
export DUET_ETHERS_JS
export DUET_CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || true)
export DUET_PG_BIN ?= $(shell ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

.PHONY: help run wasm sdk test deps tools geth vet test-native test-tools test-wasm test-js test-sdk bench bench-load mutation fmt-check clean

help: ## Show this list.
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  make %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: wasm ## Build the device module and start the server on ADDR (127.0.0.1:8080).
	mkdir -p $(DATA)
	$(GO) run ./server/cmd/duetd serve --dev --addr $(ADDR) --data $(DATA)

wasm: ## Build web/duet.wasm and copy the matching web/wasm_exec.js.
	@if [ -z "$(WASM_EXEC_JS)" ]; then echo "wasm: no wasm_exec.js under $(GO_ROOT)/lib/wasm or $(GO_ROOT)/misc/wasm" >&2; exit 1; fi
	mkdir -p web
	GOOS=js GOARCH=wasm $(GO) build -o web/duet.wasm ./wasm
	cp $(WASM_EXEC_JS) web/wasm_exec.js

test: vet test-tools test-native test-wasm test-js test-sdk ## Vet, then run all tests: Go natively, the SDK's in Node and Chromium, the js/wasm ones in Chromium.

sdk: ## Build the npm package @duetwallet/sdk (duet.wasm inside) into js/dist and print its SHA-256 sums.
	scripts/build-sdk $(SDK_DIST)

deps: ## Install Chromium and PostgreSQL with apt if they are missing.
	@scripts/install-deps

tools: $(WASMBROWSERTEST) ## Build wasmbrowsertest into DUET_CACHE (~/.cache/duet).

geth: $(GETH) ## Build geth into DUET_CACHE (a few minutes, once).

# GOOS and GOARCH are dropped so that a caller's js/wasm setting does not
# build the tools for the browser. The binaries appear only once complete, so
# an interrupted build is redone rather than mistaken for a cached one.
$(WASMBROWSERTEST):
	@mkdir -p $(@D)
	cd tools && env -u GOOS -u GOARCH $(GO) build -o $@.tmp github.com/agnivade/wasmbrowsertest
	mv $@.tmp $@

$(DUET_ETHERS_JS):
	npm install --prefix $(DUET_CACHE)/npm-ethers-$(ETHERS_VERSION) --no-audit --no-fund --no-save ethers@$(ETHERS_VERSION)
	test -f $@

$(GETH):
	@rm -rf $(@D).tmp && mkdir -p $(@D).tmp
	env -u GOOS -u GOARCH GOBIN=$(@D).tmp $(GO) install github.com/ethereum/go-ethereum/cmd/geth@$(GETH_VERSION)
	rm -rf $(@D) && mv $(@D).tmp $(@D)

vet: ## Run go vet natively, for js/wasm, and on the tools module.
	@if [ -z "$(NATIVE_PKGS)" ]; then echo "vet: no Go packages in the main module yet"; else set -x; $(GO) vet ./...; fi
	@if [ -z "$(WASM_PKGS)" ]; then echo "vet: no js/wasm packages under mpc/, bridge/ or wasm/ yet"; else set -x; GOOS=js GOARCH=wasm $(GO) vet $(WASM_PKGS); fi
	cd tools && $(GO) vet ./...

test-native: deps geth $(DUET_ETHERS_JS) ## Run the main module's tests natively.
	@if [ -z "$(NATIVE_PKGS)" ]; then echo "test-native: no Go packages in the main module yet"; else set -x; $(GO) test -timeout $(TEST_TIMEOUT) ./...; fi

test-js: deps ## Run the JavaScript SDK's tests (Node's test runner; some drive headless Chromium).
	node --test js/test/*.test.mjs

$(SDK_NPM_DIR)/.installed:
	@mkdir -p $(@D)
	cp js/test/sdk-deps/package.json $(@D)/package.json
	cd $(@D) && npm install --no-audit --no-fund --loglevel=error
	touch $@

# The package as an app developer gets it: npm pack, the tarball installed
# beside the pinned dependencies, the example app built by vite build, a
# TypeScript consumer checked by tsc, then the build served with a strict
# CSP and driven in Chromium through wagmi against duetd --dev and geth --dev.
test-sdk: deps geth sdk $(SDK_NPM_DIR)/.installed ## Test the npm package: vite build of web/examples/wagmi-react, tsc, and the app in Chromium.
	cd $(SDK_NPM_DIR) && npm install --no-audit --no-fund --no-save --loglevel=error $(abspath $(SDK_DIST))/duetwallet-sdk-*.tgz
	@work=$$(mktemp -d $(SDK_NPM_DIR)/run.XXXXXX); trap 'rm -rf "$$work"' EXIT; \
	set -x; \
	cp -r web/examples/wagmi-react/package.json web/examples/wagmi-react/index.html web/examples/wagmi-react/vite.config.js web/examples/wagmi-react/src "$$work/"; \
	(cd "$$work" && $(SDK_NPM_DIR)/node_modules/.bin/vite build --logLevel warn); \
	mkdir "$$work/injected" && cp js/test/wagmi-injected/index.html js/test/wagmi-injected/main.js "$$work/injected/"; \
	(cd "$$work/injected" && $(SDK_NPM_DIR)/node_modules/.bin/vite build --logLevel warn --base /injected/ --outDir "$$work/dist/injected"); \
	mkdir "$$work/types" && cp js/test/types/tsconfig.json js/test/types/consumer.ts "$$work/types/"; \
	$(SDK_NPM_DIR)/node_modules/.bin/tsc -p "$$work/types/tsconfig.json"; \
	$(SDK_NPM_DIR)/node_modules/.bin/tsc --noEmit --strict --target es2022 --lib es2022,dom $(SDK_NPM_DIR)/node_modules/@duetwallet/sdk/types/duet.d.ts; \
	DUET_SDK_APP="$$work/dist" $(GO) test -tags sdkpackage -count=1 -run '^TestSDKPackage$$' -timeout 10m ./e2e

test-tools: ## Run the tools module's tests.
	cd tools && $(GO) test ./...

test-wasm: deps tools ## Run the js/wasm tests of mpc/, bridge/ and wasm/ in headless Chromium.
	@pkgs="$(WASM_PKGS)"; \
	if [ -z "$$pkgs" ]; then echo "test-wasm: no js/wasm packages under mpc/, bridge/ or wasm/ yet; nothing to run in the browser"; exit 0; fi; \
	set -x; GOOS=js GOARCH=wasm $(GO) test -exec $(WASMBROWSERTEST) -timeout $(WASM_TEST_TIMEOUT) $$pkgs

bench: deps tools ## Benchmark ./mpc natively and in Chromium, then the SDK and server (e2e, tag duetbench); one table, bench/results.json.
	@mkdir -p $(BENCH_DIR) bench
	@rc=0; flags=(-run '^$$' -bench '$(BENCH)' -timeout $(BENCH_TIMEOUT)$(if $(BENCHTIME), -benchtime $(BENCHTIME))); \
	echo "== native"; \
	$(GO) test "$${flags[@]}" $(BENCH_PKG) | tee $(BENCH_DIR)/native.txt || rc=1; \
	echo "== wasm (Chromium)"; \
	GOOS=js GOARCH=wasm $(GO) test -exec $(WASMBROWSERTEST) "$${flags[@]}" $(BENCH_PKG) | tee $(BENCH_DIR)/wasm.txt || rc=1; \
	echo "== speed (the SDK in Chromium against duetd on loopback; the server with native Go devices)"; \
	rm -f bench/speed.json; \
	DUET_BENCH_OUT=$(CURDIR)/bench/speed.json $(GO) test -tags duetbench -count=1 -v -run '^TestBench$$' -timeout $(BENCH_TIMEOUT) ./e2e/ \
		| tee $(BENCH_DIR)/speed.txt | grep -E '^(=== RUN|--- |\s+bench_test.go|ok|FAIL)' || rc=1; \
	echo; \
	(cd tools && $(GO) run ./benchtable $$(test -f ../bench/speed.json && echo "-speed ../bench/speed.json") \
		-json ../bench/results.json $(BENCH_DIR)/native.txt $(BENCH_DIR)/wasm.txt); \
	echo "results: bench/results.json; raw output: $(BENCH_DIR)/native.txt $(BENCH_DIR)/wasm.txt $(BENCH_DIR)/speed.txt"; \
	exit $$rc

# make bench-load: duetd under N concurrent wallets (server/cmd/duetload),
# each creating its wallet, running aux-info, then signing for LOAD_DURATION
# with LOAD_POOL presignatures pooled (refilled after each signature; 0
# presigns every signature inline), each phase timed on its own; one
# replica on SQLite, then two on one PostgreSQL. One JSON object per run in
# LOAD_OUT.
LOAD_WALLETS ?= 50 200
LOAD_DURATION ?= 60s
LOAD_POOL ?= 1
LOAD_OUT ?= $(BENCH_DIR)/load.jsonl

bench-load: deps ## Load-test duetd: LOAD_WALLETS (50 200) wallets signing for LOAD_DURATION, 1 replica on SQLite and 2 on PostgreSQL.
	@mkdir -p $(BENCH_DIR) && : > $(LOAD_OUT)
	$(GO) build -o $(BENCH_DIR)/duetd ./server/cmd/duetd
	$(GO) build -o $(BENCH_DIR)/duetload ./server/cmd/duetload
	@rc=0; for n in $(LOAD_WALLETS); do \
	  echo "== $$n wallets, 1 replica, SQLite"; \
	  $(BENCH_DIR)/duetload --duetd $(BENCH_DIR)/duetd --wallets $$n --duration $(LOAD_DURATION) --pool $(LOAD_POOL) | tee -a $(LOAD_OUT) || rc=1; \
	  echo "== $$n wallets, 2 replicas, PostgreSQL"; \
	  $(BENCH_DIR)/duetload --duetd $(BENCH_DIR)/duetd --wallets $$n --duration $(LOAD_DURATION) --pool $(LOAD_POOL) --replicas 2 --postgres | tee -a $(LOAD_OUT) || rc=1; \
	done; echo "results: $(LOAD_OUT)"; exit $$rc

# Not part of `make test`: a full run tests each of some 560 mutants against
# the tests of its package that reach the mutated guard (by a first run of
# each test on its own with coverage), which takes hours on two cores. It
# reports and does not fail; `make mutation MUTATION_PKGS=mpc/zk/` narrows it.
mutation: deps ## Disable each guard on untrusted input in turn; list those no test notices. MUTATION_PKGS=regexp MUTATION_JOBS=n.
	cd tools && env -u GOOS -u GOARCH $(GO) run ./mutation -root .. -j $(MUTATION_JOBS)$(if $(MUTATION_PKGS), -pkgs '$(MUTATION_PKGS)')$(if $(MUTATION_OUT), -out $(abspath $(MUTATION_OUT)))$(if $(MUTATION_FIRST), -first '$(MUTATION_FIRST)')

fmt-check: ## Fail if any Go file is not gofmt-formatted.
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi

clean: ## Remove build outputs from the work tree (the tool cache stays).
	rm -f web/duet.wasm web/wasm_exec.js
	rm -rf $(SDK_DIST)
