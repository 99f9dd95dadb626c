# Build tooling for github.com/tripswitch/tripswitch.
#
# Every recipe line runs under `bash -e -o pipefail`, and no failure is hidden:
# no `|| true`, no `-` prefixes. Tools are installed, pinned, into ./bin.

SHELL := bash
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := help

# Targets such as test run steps that must not overlap (tidy rewrites go.mod).
.NOTPARALLEL:

# Every module directory that has a go.mod: the root and each */go.mod, so a
# new module (cbprom/, cbgrpc/, ...) is picked up as soon as its go.mod exists.
MODULES := . $(patsubst %/go.mod,%,$(wildcard */go.mod))

# benchmarks/ (with `replace github.com/tripswitch/tripswitch => ../`) pulls in
# the peer breakers and their dependencies (goconvey and more), which no
# module of the library needs: `make test` leaves it out and
# `make test-benchmarks` checks it on its own. The library's own modules
# (cbgrpc/, cbprom/, cbotel/) and examples/ are tested by make test with
# what they need.
BENCH_MODULE := $(patsubst %/go.mod,%,$(wildcard benchmarks/go.mod))
LIB_MODULES  := $(filter-out $(BENCH_MODULE),$(MODULES))

# The modules vet, race and tidy-check run in; test-benchmarks sets it to
# benchmarks/ on the command line, e.g. `make vet CHECK_MODULES=benchmarks`.
CHECK_MODULES = $(LIB_MODULES)

GO ?= go
BIN := $(CURDIR)/bin

# Pinned tool versions.
GOLANGCI_LINT_VERSION := v2.15.0
GOFUMPT_VERSION       := v0.12.0
BENCHSTAT_VERSION     := v0.0.0-20260908200009-22c9c6c9d4da
GOVULNCHECK_VERSION   := v1.9.0

GOLANGCI_LINT := $(BIN)/golangci-lint
GOFUMPT       := $(BIN)/gofumpt
BENCHSTAT     := $(BIN)/benchstat
GOVULNCHECK   := $(BIN)/govulncheck

# Benchmarks (see the Benchmarks section below):
#   make bench BENCH=ClosedSuccess COUNT=10 CPU=1,2,4 BENCHTIME=1s
#   make bench-cb BENCH=Execute
BENCH     ?= .
COUNT     ?= 6
CPU       ?= 1,2
BENCHTIME ?= 250ms
BENCH_OUT ?= bench.txt

# Fuzzing: make fuzz FUZZTIME=5m
FUZZTIME ?= 60s

COVER_DIR := coverage

.PHONY: all
all: lint test ## Run lint and test.

.PHONY: help
help: ## Show this help.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------
# Tools

$(GOLANGCI_LINT):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(GOFUMPT):
	GOBIN=$(BIN) $(GO) install mvdan.cc/gofumpt@$(GOFUMPT_VERSION)

$(BENCHSTAT):
	GOBIN=$(BIN) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

$(GOVULNCHECK):
	GOBIN=$(BIN) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

.PHONY: tools
tools: $(GOLANGCI_LINT) $(GOFUMPT) $(BENCHSTAT) $(GOVULNCHECK) ## Install all pinned tools into ./bin.

# ---------------------------------------------------------------------------
# Test

.PHONY: test
test: vet race portability tidy-check ## The library's modules (not benchmarks/): vet, race tests (-short), 386/arm64 checks, tidy check.

# benchmarks/ has no suite that -short scales down: it is tested in full.
.PHONY: test-benchmarks
test-benchmarks: ## The benchmarks/ module: vet, race tests, tidy check (downloads the peer breakers).
	@if [ -z "$(BENCH_MODULE)" ]; then echo "no benchmarks/go.mod" >&2; exit 1; fi
	@$(MAKE) --no-print-directory vet race tidy-check CHECK_MODULES='$(BENCH_MODULE)' RACE_SHORT=

.PHONY: vet
vet: ## go vet ./... in every CHECK_MODULES module (default: all but benchmarks/).
	@for m in $(CHECK_MODULES); do \
		echo "==> go vet ($$m)"; \
		(cd $$m && $(GO) vet ./...) || exit 1; \
	done

# make test passes -short, under which the stress suites skip or scale
# down; make soak runs them in full, and CI runs both.
RACE_SHORT := -short

.PHONY: race
race: ## go test -race -short -count=1 ./... in every CHECK_MODULES module (RACE_SHORT= for the full suites).
	@for m in $(CHECK_MODULES); do \
		echo "==> go test $(strip -race $(RACE_SHORT)) ($$m)"; \
		(cd $$m && $(GO) test -race $(RACE_SHORT) -count=1 ./...) || exit 1; \
	done

.PHONY: soak
soak: ## The long concurrency soak: the library's tests with -race and without -short.
	@$(MAKE) --no-print-directory race RACE_SHORT=

.PHONY: portability
portability: ## GOARCH=386 go vet and GOARCH=arm64 go build of every library module.
	@for m in $(LIB_MODULES); do \
		echo "==> GOARCH=386 go vet ($$m)"; \
		(cd $$m && GOARCH=386 $(GO) vet ./...) || exit 1; \
		echo "==> GOARCH=arm64 go build ($$m)"; \
		(cd $$m && GOARCH=arm64 $(GO) build ./...) || exit 1; \
	done

# `go mod tidy -diff` (Go 1.23+) prints the changes tidy would make and exits
# non-zero if there are any, without touching go.mod/go.sum. Unlike
# `go mod tidy && git diff --exit-code`, it also catches untracked/uncommitted
# go.mod files and never rewrites files in the working tree.
.PHONY: tidy-check
tidy-check: ## Fail if go mod tidy would change go.mod/go.sum in any CHECK_MODULES module.
	@for m in $(CHECK_MODULES); do \
		echo "==> go mod tidy -diff ($$m)"; \
		(cd $$m && $(GO) mod tidy -diff) || { \
			echo "go.mod/go.sum in '$$m' are not tidy: run 'make tidy' and commit the result" >&2; \
			exit 1; \
		}; \
	done

.PHONY: tidy
tidy: ## go mod tidy in every module.
	@for m in $(MODULES); do \
		echo "==> go mod tidy ($$m)"; \
		(cd $$m && $(GO) mod tidy) || exit 1; \
	done

# ---------------------------------------------------------------------------
# Vulnerabilities

# govulncheck reads the Go vulnerability database at VULN_DB, so it needs
# network access to vuln.go.dev (or a local copy: VULN_DB=file:///path).
# CI does not run it: the CI machine cannot reach vuln.go.dev, and there
# govulncheck fails (it never passes without its database).
VULN_DB ?= https://vuln.go.dev

.PHONY: vulncheck
vulncheck: $(GOVULNCHECK) ## govulncheck in every module, benchmarks/ included (needs vuln.go.dev; not run by CI).
	@for m in $(MODULES); do \
		echo "==> govulncheck ($$m)"; \
		(cd $$m && $(GOVULNCHECK) -db '$(VULN_DB)' ./...) || exit 1; \
	done

# ---------------------------------------------------------------------------
# Lint / format

.PHONY: lint
lint: golangci-lint fmt-check ## golangci-lint in every module + gofumpt check.

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
	@for m in $(MODULES); do \
		echo "==> golangci-lint ($$m)"; \
		(cd $$m && $(GOLANGCI_LINT) run ./...) || exit 1; \
	done

.PHONY: fmt-check
fmt-check: $(GOFUMPT) ## Fail if any file is not gofumpt-formatted.
	@echo "==> gofumpt -l"
	@out="$$(find . -path ./bin -prune -o -path ./.git -prune -o -name '*.go' -type f -print0 | xargs -0 -r $(GOFUMPT) -l)"; \
	if [ -n "$$out" ]; then \
		echo "these files are not gofumpt-formatted (run 'make fmt'):" >&2; \
		echo "$$out" >&2; \
		exit 1; \
	fi

.PHONY: fmt
fmt: $(GOFUMPT) $(GOLANGCI_LINT) ## Format all Go files: gofumpt -w, then golangci-lint fmt (goimports).
	find . -path ./bin -prune -o -path ./.git -prune -o -name '*.go' -type f -print0 | xargs -0 -r $(GOFUMPT) -w
	@for m in $(MODULES); do \
		(cd $$m && $(GOLANGCI_LINT) fmt ./...) || exit 1; \
	done

# ---------------------------------------------------------------------------
# Benchmarks

# `make bench` is the comparison with the peers, in the benchmarks/ module:
# every benchmark COUNT times at -cpu CPU, BENCHTIME each, into
# benchmarks/results/bench.txt; benchstat's summary into
# benchmarks/results/benchstat.txt; then benchmarks/cmd/chart draws
# benchmarks/chart.svg and rewrites the generated part of
# benchmarks/README.md (goal table, tables, machine, command). With the
# defaults a run takes 10 to 13 minutes on 2 cores. The exact commands are
# exported to the recipe, which runs them and records them in the README.
PEERS_DIR := benchmarks

bench: export BENCH_MAKE = make bench BENCH='$(BENCH)' COUNT=$(COUNT) CPU=$(CPU) BENCHTIME=$(BENCHTIME)
bench: export BENCH_CMD = $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(COUNT) -cpu $(CPU) -timeout 0 .

.PHONY: bench
bench: $(BENCHSTAT) ## Compare with the peers (benchmarks/): results, benchstat, chart, README (vars BENCH, COUNT, CPU, BENCHTIME).
	@mkdir -p $(PEERS_DIR)/results
	@echo "==> $$BENCH_CMD (in $(PEERS_DIR)/)"
	cd $(PEERS_DIR) && eval "$$BENCH_CMD" | tee results/bench.txt
	@# go test exits 0 when a benchmark fails in a -count or -cpu repetition
	@# after its first run; a failed benchmark must fail the target.
	@if grep -q -e '--- FAIL' -e '^FAIL' $(PEERS_DIR)/results/bench.txt; then \
		echo "a benchmark failed: see $(PEERS_DIR)/results/bench.txt" >&2; exit 1; \
	fi
	$(BENCHSTAT) $(PEERS_DIR)/results/bench.txt | tee $(PEERS_DIR)/results/benchstat.txt
	cd $(PEERS_DIR) && $(GO) run ./cmd/chart -in results/bench.txt -svg chart.svg -readme README.md \
		-make "$$BENCH_MAKE" -cmd "$$BENCH_CMD"

.PHONY: bench-cb
bench-cb: $(BENCHSTAT) ## Root-module benchmarks into bench.txt, then benchstat (vars BENCH, COUNT, CPU).
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) -cpu $(CPU) ./... | tee $(BENCH_OUT)
	$(BENCHSTAT) $(BENCH_OUT)

# ---------------------------------------------------------------------------
# Fuzzing

# For every package of the root module, list its Fuzz targets and run each
# for $(FUZZTIME). Packages with no fuzz targets are skipped; zero targets in
# total is not an error. `go test -list` fails loudly on a broken package.
.PHONY: fuzz
fuzz: ## Run every fuzz target in the root module for FUZZTIME (default 60s).
	@pkgs="$$($(GO) list ./...)"; \
	n=0; \
	for pkg in $$pkgs; do \
		listing="$$($(GO) test -list '^Fuzz' $$pkg)"; \
		targets="$$(printf '%s\n' "$$listing" | awk '/^Fuzz/ { print $$1 }')"; \
		for t in $$targets; do \
			echo "==> fuzz $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
			n=$$((n+1)); \
		done; \
	done; \
	echo "==> ran $$n fuzz target(s)"

.PHONY: fuzz-smoke
fuzz-smoke: ## Run every fuzz target for 10s.
	@$(MAKE) --no-print-directory fuzz FUZZTIME=10s

# ---------------------------------------------------------------------------
# Coverage

.PHONY: cover
cover: ## Coverage per package (counting every test that reaches it) and the total; profile in coverage/.
	@mkdir -p $(COVER_DIR)
	$(GO) test -count=1 -covermode=atomic -coverpkg=./... -coverprofile=$(COVER_DIR)/cover.out ./... | sed -n '/^ok /!p'
	@# Each test binary lists every block; a block is covered if any run hit it.
	@awk 'NR > 1 { split($$1, loc, ":"); pkg = loc[1]; sub("/[^/]*$$", "", pkg); \
		stmts[$$1] = $$2; owner[$$1] = pkg; if ($$3 > 0) hit[$$1] = 1 } \
		END { for (b in stmts) { all[owner[b]] += stmts[b]; total += stmts[b]; \
			if (b in hit) { cov[owner[b]] += stmts[b]; covered += stmts[b] } } \
		for (p in all) printf "%-60s %5.1f%%\n", p, 100 * cov[p] / all[p] | "sort"; close("sort"); \
		printf "%-60s %5.1f%%\n", "total", 100 * covered / total }' $(COVER_DIR)/cover.out
	@echo "HTML report: $(GO) tool cover -html=$(COVER_DIR)/cover.out"

# ---------------------------------------------------------------------------
# Demo

# The examples are a module of their own (examples/go.mod), since the demo
# serves Prometheus metrics through cbprom and the fleet demo talks to
# Redis through cbredis, which the root module cannot depend on; so the
# programs run from its directory.

.PHONY: dashboard-screenshot
dashboard-screenshot: ## Regenerate docs/dashboard.png from examples/dashboard (needs chromium; about 45 s).
	cd examples && $(GO) run ./dashboard -screenshot ../docs/dashboard.png

# After its run the demo keeps serving its dashboard, JSON report and
# metrics for DEMO_LINGER, so that there is time to look at where the
# breaker ended up; DEMO_LINGER=0 ends it with the run. DEMO_FLAGS come
# after, so a -linger there wins too. The demo runs in examples/, where
# relative paths in DEMO_FLAGS start.
DEMO_LINGER ?= 30s

.PHONY: demo
demo: ## Run the flaky-dependency demo (about 20 s, then serves its dashboard for DEMO_LINGER=30s); DEMO_FLAGS passes flags, e.g. DEMO_FLAGS='-svg ../timeline.svg'.
	cd examples && $(GO) run ./flaky -linger $(DEMO_LINGER) $(DEMO_FLAGS)

# The fleet demo runs a redis-server of its own (Debian's redis-server
# package, as for the tests) and several replica processes; it exits
# non-zero when the fleet did not open, probe or close together.
# FLEET_FLAGS passes flags, e.g. FLEET_FLAGS='-replicas 6'.
.PHONY: demo-fleet
demo-fleet: ## Run the fleet demo: replica processes share one breaker through a local redis-server, opening, probing once and closing together (about 17 s); FLEET_FLAGS passes flags.
	cd examples && $(GO) run ./fleet $(FLEET_FLAGS)

.PHONY: clean
clean: ## Remove ./bin, bench output and coverage files.
	rm -rf $(BIN) $(BENCH_OUT) $(COVER_DIR) cover.out coverage.out
