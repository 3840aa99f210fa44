# Jocko's everyday commands. `make help` lists them.
GO ?= go

.PHONY: help run cluster build test test-short wasm vet fuzz bench bench-cluster bench-latency bench-conns bench-restart sim sim-long sim-swarm clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## run a broker with zero configuration (127.0.0.1:9092, ./jocko-data)
	$(GO) run ./cmd/jocko broker

cluster: ## a local 3-broker cluster (examples/cluster): 127.0.0.1:9092, :9192, :9292
	examples/cluster/run.sh

build: ## build the jocko binary into ./bin
	CGO_ENABLED=0 $(GO) build -o bin/jocko ./cmd/jocko

test: vet wasm ## the whole test suite, as CI runs it
	$(GO) test -race -timeout 20m $$($(GO) list ./... | grep -v '/sim$$')
	# The simulator's harness runs wasm under wazero: -race would only slow
	# it (sim/runner's TestNative runs the scenarios natively under -race).
	$(GO) test -timeout 20m ./sim

test-short: ## the quick unit tests
	$(GO) test -short ./...

wasm: ## everything the simulator runs must build for GOOS=wasip1
	GOOS=wasip1 GOARCH=wasm $(GO) build $$($(GO) list ./... | grep -v /cmd/)

vet: ## go vet and gofmt
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1)

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} || exit 1; \
	  done; \
	done

bench: ## produce/consume benchmark against Jocko and kfake, then bench-cluster, JSON lines
	$(GO) run ./cmd/jocko-bench
	$(GO) run ./cmd/jocko-bench -cluster
	$(GO) run ./cmd/jocko-bench -latency
	$(GO) run ./cmd/jocko-bench -conns
	$(GO) test -run '^$$' -bench . -benchmem ./wire ./storage

bench-cluster: ## acks=all produce at RF=3 on 3 brokers next to RF=1 on 1, with disk bytes/s
	$(GO) run ./cmd/jocko-bench -cluster

bench-latency: ## acks=all ack p99/p99.9 at 2,000 records/s while segments roll, retention deletes and big reads run, next to the disk's fsync p99, a no-broker floor and the broker's own figures
	$(GO) run ./cmd/jocko-bench -latency

bench-conns: ## 100 producers alone, beside 10,000 idle connections, then beside slow and non-reading ones, with the broker's RSS
	$(GO) run ./cmd/jocko-bench -conns

bench-restart: ## GIB (default 2) GiB across 1,000 partitions, then restarts after kill -9 and SIGTERM: seconds until every partition takes produce and fetch
	$(GO) run ./cmd/jocko-restart-bench -gib $${GIB:-2}

sim: ## the simulator's default seed set
	$(GO) test ./sim

sim-long: ## a long simulator run, then the 100-broker scenarios (the second crashes brokers for five virtual minutes)
	$(GO) test ./sim -timeout 120m -seeds 500
	$(GO) test ./sim -timeout 120m -run TestSim -scenario=cluster-100 -seeds=1 -wall 60m -v
	$(GO) test ./sim -timeout 120m -run TestSim -scenario=cluster-100-crash-loop -seeds=1 -double-every=0 -swarm=false -wall 60m -v

sim-swarm: ## FOR (default 1h) of runs with a scenario and a seed drawn at random, each seed with its own fault menu and settings
	$(GO) test ./sim -run TestSwarmMode -swarm-for=$${FOR:-1h} -timeout 0 -v

clean:
	rm -rf bin jocko-data
