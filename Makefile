# User360 — see README.md.
GO      ?= go
PKGS    ?= ./...
BIN     ?= bin/user360

.PHONY: build test test-race vet fuzz bench bench-reference bench-go bench-gateway bench-pipeline bench-pipeline-mix dev compose-up clean

build:
	$(GO) build -o $(BIN) ./cmd/user360

# The test command of the README and of CI: needs Redis on 127.0.0.1:6379
# (or USER360_TEST_REDIS_URL); Kafka is embedded.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)

test-race:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime 60s ./ingest/

# Benchmarks: how fast this machine's Redis is right now (the reference the
# identity target is stated against), Go benchmarks of every stage, the
# gateway under load, then the whole pipeline in one `user360 dev`: new
# users (gateway 2xx → segment.entered) and known users' tracks (throughput).
bench: bench-reference bench-go bench-gateway bench-pipeline bench-pipeline-mix

bench-reference:
	./scripts/redis-reference.sh

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 2s -timeout 30m $(PKGS)

bench-gateway: build
	./scripts/bench-gateway.sh

bench-pipeline:
	./scripts/bench-pipeline.sh

bench-pipeline-mix:
	./scripts/bench-pipeline-mix.sh

dev: build
	./$(BIN) dev

compose-up:
	docker compose up --build

clean:
	rm -rf bin
