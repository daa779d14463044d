# tape: `make run` starts the demo, `make test` runs every test against a
# real Kafka broker that it starts and stops itself.

GO        ?= go
BIN       := bin/tape
# The broker for tests; TAPE_TEST_BROKERS, if set, points at an existing one.
TEST_KAFKA_PORT ?= 29092
# A count, not a duration: Go 1.26 fuzzing can fail spuriously with
# "context deadline exceeded" when a -fuzztime duration runs out.
FUZZTIME  ?= 20000x

include scripts/kafka.mk

.PHONY: all build run test check generate test-deps fuzz clean vendor cluster cluster-down lb-deps drills drills-short

# The cluster of `make cluster` (see scripts/cluster): ports from
# CLUSTER_BASE (broker CLUSTER_BASE, load balancer CLUSTER_BASE+10).
CLUSTER_BASE ?= $(or $(TAPE_CLUSTER_BASE),9700)
CLUSTER_SCRIPT := scripts/cluster

all: build

build:
	$(GO) build -buildvcs=true -o $(BIN) ./cmd/tape

run: build
	./$(BIN) demo

generate:
	$(GO) tool templ generate

# check fails when generated or formatted files are stale, or vet complains.
check:
	@$(GO) tool templ generate >/dev/null
	@stale=$$(git status --porcelain -- '*_templ.go'); \
	  if [ -n "$$stale" ]; then echo "templ generate changed files (commit them):"; echo "$$stale"; exit 1; fi
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# test-deps installs the third-party programs tests drive: kcat (a Kafka
# client tape did not write) and Chromium (for page tests).
test-deps:
	@missing=""; \
	  command -v kcat >/dev/null || missing="$$missing kcat"; \
	  command -v chromium >/dev/null || missing="$$missing chromium"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing$$missing"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi

test: check test-deps
	@set -e; \
	if [ -z "$$TAPE_TEST_BROKERS" ]; then \
	  trap 'TAPE_KAFKA_PORT=$(TEST_KAFKA_PORT) $(KAFKA_SCRIPT) down' EXIT; \
	  TAPE_KAFKA_PORT=$(TEST_KAFKA_PORT) $(KAFKA_SCRIPT) up; \
	  export TAPE_TEST_BROKERS=127.0.0.1:$(TEST_KAFKA_PORT); \
	fi; \
	$(GO) test -race -count=1 -timeout 20m ./...; \
	$(MAKE) --no-print-directory fuzz; \
	$(MAKE) --no-print-directory drills-short

# fuzz runs every fuzz target briefly from its committed corpus.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -parallel 2 $$pkg >/tmp/tape-fuzz.log 2>&1 || { cat /tmp/tape-fuzz.log; exit 1; }; \
	  done; \
	done

# vendor copies the browser libraries pinned in web/package-lock.json
# (TradingView's lightweight-charts) into ui/static/vendor, with their
# licences and notices, where the binary embeds them: pages load nothing
# from a CDN. Run it after changing web/package.json, and commit the result.
VENDOR := ui/static/vendor
vendor:
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p $(VENDOR)
	cp web/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js $(VENDOR)/
	cp web/node_modules/lightweight-charts/LICENSE $(VENDOR)/LICENSE.txt
	@# The NOTICE is not in the npm package; its text is the upstream
	@# repository's (github.com/tradingview/lightweight-charts/blob/master/NOTICE).
	printf '%s\n' \
	  "TradingView Lightweight Charts™ $$(node -p 'require("./web/node_modules/lightweight-charts/package.json").version')" \
	  'Copyright (c) 2023 TradingView, Inc. https://www.tradingview.com/' \
	  '' \
	  'Bundled in the standalone build: fancy-canvas $(shell node -p 'require("./web/node_modules/fancy-canvas/package.json").version' 2>/dev/null),' \
	  'MIT licence, TradingView, Inc. (https://github.com/tradingview/fancy-canvas).' > $(VENDOR)/NOTICE.txt

# lb-deps installs the load balancer the cluster runs behind (HAProxy,
# from Debian's packages) when it is missing.
lb-deps:
	@command -v haproxy >/dev/null || { \
	  echo "installing haproxy"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }

# cluster starts (or completes) a cluster on 127.0.0.1: the real broker,
# two ingesters, three web nodes behind HAProxy, a feed. Idempotent.
cluster: build lb-deps
	TAPE_CLUSTER_BASE=$(CLUSTER_BASE) $(CLUSTER_SCRIPT) up

# cluster-down stops it and deletes its state. Idempotent.
cluster-down:
	TAPE_CLUSTER_BASE=$(CLUSTER_BASE) $(CLUSTER_SCRIPT) down

# drills runs the failure drills (cmd/tape/drill_test.go) against the
# cluster, starting it if needed; one JSON line per drill. DRILLS picks
# some: make drills DRILLS=kill-web-node,flood.
DRILLS ?= all
drills: cluster
	TAPE_DRILLS=$(DRILLS) TAPE_CLUSTER_BASE=$(CLUSTER_BASE) $(GO) test -count=1 -timeout 60m -v -run '^TestDrills$$' ./cmd/tape

# drills-short runs the shorter drills on a cluster of its own, then
# stops it: part of make test.
DRILLS_SHORT ?= kill-web-node,kill-ingester,broker-outage
SHORT_CLUSTER_BASE ?= 9800
drills-short: build lb-deps
	@set -e; \
	trap 'TAPE_CLUSTER_BASE=$(SHORT_CLUSTER_BASE) $(CLUSTER_SCRIPT) down >/dev/null' EXIT; \
	TAPE_CLUSTER_BASE=$(SHORT_CLUSTER_BASE) $(CLUSTER_SCRIPT) up; \
	status=0; TAPE_DRILLS=$(DRILLS_SHORT) TAPE_DRILL_SHORT=1 TAPE_CLUSTER_BASE=$(SHORT_CLUSTER_BASE) \
	  $(GO) test -count=1 -timeout 15m -v -run '^TestDrills$$' ./cmd/tape >/tmp/tape-drills.log 2>&1 || status=$$?; \
	grep -E '^\{|^ *--- |^(ok|FAIL)|drill_test.go' /tmp/tape-drills.log; exit $$status

clean:
	rm -rf bin
