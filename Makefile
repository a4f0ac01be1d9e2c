# Shortcuts for developers; CI runs .ci/run.
#
#   make test    every test, with the race detector, then the tests skipped
#                and why (a tool not installed names its Debian package) and
#                "N passed, N failed, N skipped"; PKGS=./feed/... for fewer
#   make bench   the load tool's standard suite (docs/performance.md): weblogd,
#                and side by side the peers whose paths are given, e.g.
#                make bench WEBSOCKETD=/tmp/peers/websocketd/websocketd \
#                    FRONTAIL=/tmp/peers/frontail/node_modules/.bin/frontail
#                RUNS, DURATION and BENCHFLAGS (more weblogbench flags, e.g.
#                --rows 1000x1000 or --json suite.json) are passed on.

GO         ?= go
PKGS       ?= ./...
RUNS       ?= 3
DURATION   ?= 10s
BENCHFLAGS ?=
WEBSOCKETD ?=
FRONTAIL   ?=

PEER_FLAGS = $(if $(WEBSOCKETD),--peer "websocketd=$(WEBSOCKETD) --port={http} --address=127.0.0.1 --maxforks=0 --loglevel=error tail -n0 -F {log}") \
             $(if $(FRONTAIL),--peer "frontail=$(FRONTAIL) -h 127.0.0.1 -p {http} -n 0 --disable-usage-stats {log}")

.PHONY: test bench

# bash for pipefail: the status is go test's when it fails, even with no
# test failed (a package that does not build, a vet error).
SHELL := bash

# go test alone shows nothing of a package that passes, skips included:
# its -json goes through internal/testsummary, which prints what go test
# prints, then the skips.
test:
	@set -eo pipefail; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	$(GO) build -o "$$bin/" ./internal/testsummary; \
	$(GO) test -race -count=1 -json $(PKGS) | "$$bin/testsummary"

# weblogd and the tool are built into a temporary directory, put first on
# PATH for the suite's default weblogd command, and removed afterwards.
bench:
	@set -e; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	$(GO) build -o "$$bin/" ./cmd/weblogd ./cmd/weblogbench; \
	PATH="$$bin:$$PATH" "$$bin/weblogbench" --suite standard --runs $(RUNS) --duration $(DURATION) $(PEER_FLAGS) $(BENCHFLAGS)
