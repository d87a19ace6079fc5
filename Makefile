# Whistle — `make help` lists the targets.
#
# Tools are pinned here and installed into .bin/ with `go install`, so a new
# machine needs nothing but Go (and PostgreSQL for the tests: a server on
# 127.0.0.1:5432, WHISTLE_TEST_DATABASE_URL, or just the PostgreSQL binaries).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)
export GOFLAGS := -buildvcs=false

BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION        := v0.8.2
VERSITYGW_VERSION          := v1.8.0
HYDRA_VERSION              := v2.3.0

MODULES  := pkg services/intake services/dispatch services/response services/evaluation services/monitoring cmd deploy
PACKAGES := $(addsuffix /...,$(addprefix ./,$(MODULES)))
ADDR     ?= 127.0.0.1:7000
CHAOS_MODE ?= full
DATA     ?= .whistle
FUZZTIME ?= 15s

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/buf:
	GOBIN=$(BIN) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/staticcheck:
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(BIN)/versitygw:
	GOBIN=$(BIN) go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
# Ory Hydra, the OpenID provider the console's sign-in tests run (with its
# in-memory store, hence SQLite, hence cgo and the sqlite tag). `go install
# …@$(HYDRA_VERSION)` refuses it: its go.mod replaces hydra-client-go with a
# folder its module zip leaves out. So the same module, from the module
# cache, is built with that one replace dropped (hydra-client-go then comes
# from the proxy at the version hydra's go.mod requires), everything else
# as hydra's go.mod and go.sum pin it. (~3 min the first time.)
$(BIN)/hydra:
	@tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	dir=$$(cd "$$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json github.com/ory/hydra/v2@$(HYDRA_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir"; cp -R "$$dir" "$$tmp/hydra"; chmod -R u+w "$$tmp/hydra"; cd "$$tmp/hydra"; \
	go mod edit -dropreplace github.com/ory/hydra-client-go/v2; \
	echo "building Ory Hydra $(HYDRA_VERSION) into $(BIN)/hydra"; \
	GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=1 go build -trimpath -tags sqlite,sqlite_omit_load_extension \
		-ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$(HYDRA_VERSION)" -o $(BIN)/hydra .

.PHONY: tools
tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/staticcheck $(BIN)/versitygw $(BIN)/hydra ## Install the pinned tools into .bin/

.PHONY: generate
generate: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc ## Regenerate the protobuf Go code and the dispatch service's copy of the sample catalog
	buf generate
	cp deploy/seed/catalog.yaml services/dispatch/seed/catalog.yaml

.PHONY: console-assets
console-assets: ## Copy the web console's pinned front-end packages (cmd/internal/console/package-lock.json) into its embedded web/vendor
	bash cmd/internal/console/scripts/vendor.sh

.PHONY: screenshots
screenshots: ## Run the web console's browser tests writing their screenshots to docs/screenshots (needs chromium)
	WHISTLE_SCREENSHOTS=$(CURDIR)/docs/screenshots go test -count=1 -run 'TestLeader|TestHandler|TestOverdue|TestEveryPage' ./cmd/internal/console

.PHONY: lint
lint: tools ## buf lint and breaking-change check, gofmt, go vet, staticcheck
	buf lint
	@if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then \
		echo "buf breaking against the previous commit"; buf breaking --against '.git#ref=HEAD~1'; \
	else echo "buf breaking: no previous commit with protos to compare with"; fi
	@unformatted=$$(gofmt -l $(MODULES) | grep -v '\.pb\.go$$' || true); \
		if [ -n "$$unformatted" ]; then echo "not gofmt-formatted (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	go vet $(PACKAGES)
	staticcheck $(PACKAGES)

.PHONY: build
build: ## Build whistle and whistlectl into bin/
	go build -o bin/ ./cmd/whistle ./cmd/whistlectl

.PHONY: test
test: $(BIN)/versitygw $(BIN)/hydra ## Run every test (unit, PostgreSQL and JetStream integration, end to end)
	go test -race -count=1 $(PACKAGES)

.PHONY: test-external
test-external: ## Run the JetStream and end-to-end tests against an external NATS (WHISTLE_TEST_NATS_URL, default nats://127.0.0.1:4222)
	WHISTLE_TEST_NATS_URL=$${WHISTLE_TEST_NATS_URL:-nats://127.0.0.1:4222} \
		go test -count=1 ./pkg/bus/... ./pkg/outbox/... ./cmd/internal/stack/...

.PHONY: test-deploy
test-deploy: ## Check the deployment files (Kubernetes, Compose, Dockerfile, alerts, dashboard, collector) without a cluster or a container engine
	go test -count=1 ./deploy/...

.PHONY: metrics-list
metrics-list: ## Regenerate deploy/observability/metrics.txt from a running whistle dev (after adding or renaming a metric)
	bash deploy/observability/gen-metrics.sh

.PHONY: compose-up
compose-up: ## Run the full stack in containers (Docker Compose): five services, NATS, PostgreSQL, Jaeger, Prometheus, Grafana
	docker compose -f deploy/compose/compose.yaml up --build

.PHONY: fuzz
# Go minimizes each new interesting input for up to 60 s by default, which on
# the 20 KB sample catalog eats a whole short run; 1 s keeps the runs fuzzing.
fuzz: ## Run each fuzz target for FUZZTIME (default 15s)
	go test -run '^$$' -fuzz '^FuzzRequestValidation$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./pkg/grpcserver
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./pkg/events
	go test -run '^$$' -fuzz '^FuzzParseCatalog$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./services/dispatch
	go test -run '^$$' -fuzz '^FuzzClean$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./pkg/media

BENCH_DURATION    ?= 60s
BENCH_CONCURRENCY ?= 64 256
BENCH_RATE        ?= 250

.PHONY: bench
# whistle bench runs on a fresh whistle dev each time: the closed model at
# each BENCH_CONCURRENCY (the first one with the reference floors), then the
# open model at BENCH_RATE tickets/s, each for BENCH_DURATION with its floor;
# the last line is the best closed-model figure over the batched floor. An
# open model that does not keep up leaves tickets stuck: its table still
# prints, and the target goes on.
bench: build ## Go benchmarks of the hot paths and the figure queries (5 runs each), then whistle bench: closed model at BENCH_CONCURRENCY with the reference floors, open model at BENCH_RATE tickets/s, the best closed figure over the batched floor (~16 min)
	go test -p 1 -run '^$$' -bench '^Benchmark(RequestValidation|Verify|Next|RelayFlush|Consume|GroupCommit)$$' -count 5 ./pkg/grpcserver/ ./pkg/auth/ ./pkg/ticket/ ./pkg/outbox/ ./pkg/inbox/ ./pkg/postgres/
	go test -p 1 -run '^$$' -bench '^Benchmark(Route|ProjectEvent)$$' -count 5 ./services/dispatch/ ./services/monitoring/
	go test -p 1 -run '^$$' -bench '^BenchmarkProjectBatch$$' -benchtime 30x -count 5 ./services/monitoring/
	go test -run '^$$' -bench '^BenchmarkQueriesByHistorySize$$' -benchtime 300x -count 5 ./services/monitoring/
	go test -run '^$$' -bench '^BenchmarkNearbyAtAMillion$$' -benchtime 2000x -count 5 ./pkg/geo/
	go test -run '^$$' -bench '^BenchmarkUploadMedia$$' -benchtime 20x -count 5 ./services/intake/
	go test -run '^$$' -bench '^BenchmarkCleanJPEG$$' -count 5 ./pkg/media/
	go test -run '^$$' -bench '^BenchmarkImportTickets$$' -benchtime 1x -count 3 ./cmd/internal/stack/
	go test -run '^$$' -bench '^BenchmarkWebhookDelivery$$' -benchtime 4000x -count 5 ./services/intake/
	@out=$$(mktemp -d); refs=true; files=""; \
	for c in $(BENCH_CONCURRENCY); do \
		echo "== whistle bench: closed model, concurrency $$c, $(BENCH_DURATION), reference floors $$refs"; \
		bin/whistle bench --rate 0 --concurrency $$c --duration $(BENCH_DURATION) --reference-floors=$$refs --json $$out/closed-$$c.json; \
		files="$$files $$out/closed-$$c.json"; refs=false; \
	done; \
	echo "== whistle bench: open model, $(BENCH_RATE) tickets/s, $(BENCH_DURATION)"; \
	bin/whistle bench --rate $(BENCH_RATE) --duration $(BENCH_DURATION) --reference-floors=false --json $$out/open.json \
		|| echo "bench: the open model at $(BENCH_RATE) tickets/s did not keep up (see its table above)"; \
	echo "== summary (reports in $$out)"; \
	go run ./cmd/internal/bench/summary $$files $$out/open.json

.PHONY: chaos
chaos: ## Fault suite: kill services, NATS (one node and in a cluster), PostgreSQL under load; prints lost/duplicated per scenario (~8 min; CHAOS_MODE=short ~4 min)
	go run ./cmd/internal/chaos -mode $(CHAOS_MODE)

.PHONY: adversarial
adversarial: ## Hostile caller's suite against a real whistle dev: every role, no token, foreign units, forged verdicts and tokens, bad input (~1 min)
	go run ./cmd/internal/adversarial

.PHONY: hotspot-eval
hotspot-eval: ## Hot spot scan on synthetic cities (planted problems, busy decoys, null cities): sensitivity, delay, false alarms a month; fails under 95 % or over 5 % false (~2 min)
	go run ./cmd/internal/hotspoteval

.PHONY: run
run: build ## Run all five services on $(ADDR), data in $(DATA) (Ctrl-C stops)
	bin/whistle dev --addr $(ADDR) --data $(DATA)

.PHONY: smoke
smoke: build ## Push 50 synthetic tickets through a running `make run`
	bin/whistlectl --config $(DATA)/whistlectl.yaml smoke --tickets 50

.PHONY: clean
clean: ## Remove built binaries and the dev data folder
	rm -rf bin $(DATA)
