# trailwatch — see README.md. Everything a fresh clone needs is installed by these targets.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(shell go env GOPATH 2>/dev/null)/bin
GO      ?= go
BIN     := bin/trailwatch
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/trailwatch/trailwatch/internal/cli.Version=$(VERSION)

.PHONY: all build demo test test-short tools vet fuzz bench clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/trailwatch

## demo: build trailwatch and run it on built-in demo data
demo: build
	./$(BIN) demo

## tools: install what the tests run against (MinIO and Mailpit built from their Go modules, Debian's Chromium), once
tools:
	./scripts/install-minio.sh
	./scripts/install-mailpit.sh
	./scripts/install-chromium.sh

## test: every test, against real servers on loopback
test: tools vet
	TRAILWATCH_REQUIRE_MINIO=1 TRAILWATCH_REQUIRE_MAILPIT=1 TRAILWATCH_REQUIRE_CHROMIUM=1 $(GO) test -count=1 -timeout 30m ./...

## test-short: unit tests only, no servers
test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: run each fuzz target for a while
fuzz:
	$(GO) test ./internal/cloudtrail -run '^$$' -fuzz FuzzRead -fuzztime 60s
	$(GO) test ./internal/cloudtrail -run '^$$' -fuzz FuzzParseKey -fuzztime 30s
	$(GO) test ./internal/cloudtrail -run '^$$' -fuzz FuzzObjectEach -fuzztime 30s
	$(GO) test ./internal/suppress -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./internal/rulefmt -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./internal/sigma -run '^$$' -fuzz FuzzParseCondition -fuzztime 30s
	$(GO) test ./internal/sigma -run '^$$' -fuzz FuzzPattern -fuzztime 30s
	$(GO) test ./internal/evidence -run '^$$' -fuzz FuzzLoadManifest -fuzztime 30s

## bench: the ingest and query benchmarks of issue 2, written to bench/REPORT.md
bench: build
	./scripts/bench.sh

clean:
	rm -rf bin
