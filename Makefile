# imsentinel: build, test, demo.
#   make demo    the main job on a local sandbox (installs missing servers)
#   make test    every test: unit, then end-to-end against real servers
#   make build   bin/imsentinel and bin/imctl
#   make build-faults  bin/imsentinel-faults: the fault-injection test build
#   make lint    gofmt and go vet
#   make deps    install missing servers (scripts/install-deps.sh) and Go modules
#   make bench   detection and failover against Redis Sentinel, same run; MySQL failover (test/bench)

GO      ?= go
PKG     := github.com/imsentinel/imsentinel
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X $(PKG)/sentinel/buildinfo.version=$(VERSION) -X $(PKG)/sentinel/buildinfo.commit=$(COMMIT)
BIN     := $(CURDIR)/bin

# Unit and in-process tests: everything but the end-to-end suite.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v '/test/')
# End-to-end packages start real servers: one package at a time (DESIGN.md §8).
E2E_PKGS  = $(shell $(GO) list ./test/...)

.PHONY: all build build-faults test test-unit test-e2e test-demo demo lint deps clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/imsentinel ./cmd/imsentinel
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/imctl ./cmd/imctl

# The daemon with fault injection (sentinel/faults_on.go), for the e2e tests
# only: it drops fleet messages and shifts TILT's wall clock on request.
build-faults:
	$(GO) build -tags faults -ldflags '$(LDFLAGS)' -o $(BIN)/imsentinel-faults ./cmd/imsentinel

deps:
	scripts/install-deps.sh
	$(GO) mod download

test: deps build lint test-unit test-e2e test-demo

test-unit:
	$(GO) test -race -count=1 $(UNIT_PKGS)
	$(GO) test -race -count=1 -tags faults ./sentinel/

test-e2e: build build-faults
	IMSENTINEL_BIN=$(BIN)/imsentinel IMSENTINEL_FAULTS_BIN=$(BIN)/imsentinel-faults IMCTL_BIN=$(BIN)/imctl $(GO) test -p 1 -count=1 -timeout 20m $(E2E_PKGS)

# The demo, non-interactive: it must run to the end and stop all it started.
test-demo: build
	DEMO_PAUSE=0 scripts/demo.sh

demo: deps build
	scripts/demo.sh

# Benchmarks are benchmarks (DESIGN.md §8): imsentinel against Redis Sentinel
# in the same run, as ratios; nothing is asserted about durations. Three
# benchmarks, each a driver that runs once (-benchtime 1x) and runs its trials
# itself: Detection (kill -9 -> elected leader; BENCH_TRIALS, default 10, per
# system for the ci profile, BENCH_LAN_TRIALS, default 5, for lan,
# BENCH_PROFILES, default ci,lan), Failover (Redis: kill -9 and SIGSTOP ->
# route written, first acknowledged write, lost writes; BENCH_FAILOVER_TRIALS,
# default 7, per variant, BENCH_FAULTS, default kill,stop) and MySQLFailover
# (kill -9 of a semi-sync MariaDB primary -> route written, first
# acknowledged insert, lost acknowledged inserts, which fail it; imsentinel
# alone, against issue 6's targets; BENCH_MYSQL_TRIALS, default 20). BENCH is
# a regexp on the names (default all three; e.g. make bench
# BENCH=MySQLFailover, or BENCH=^BenchmarkFailover for Redis failover alone:
# "Failover" matches both). Results: the tables on stdout,
# test/bench/bench-results.json (or BENCH_OUT),
# test/bench/failover-results.json (or BENCH_FAILOVER_OUT) and
# test/bench/mysql-failover-results.json (or BENCH_MYSQL_OUT).
BENCH ?= .
.PHONY: bench
bench: deps build
	IMSENTINEL_BIN=$(BIN)/imsentinel $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime 1x -count 1 -timeout 60m ./test/bench/

# docs/cli.md, generated from the imctl commands (TestCLIReference checks it).
.PHONY: docs
docs:
	$(GO) run ./cmd/imctl __gendoc docs/cli.md

lint:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags faults ./...

clean:
	rm -rf $(BIN)
