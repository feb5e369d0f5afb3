#!/usr/bin/env bash
# Whole-pipeline benchmark: a fresh `user360 dev` per run (every role in one
# process, the embedded broker, the local Redis in DB ${REDIS_DB:-4}) and
# the load tool measuring the time from the gateway's 2xx to the
# segment.entered record.
#   RUNS=3 RATE=5000 EVENTS=100000 ./scripts/bench-pipeline.sh
# RATE=0 sends as fast as the gateway accepts (throughput of the pipeline).
# PERSIST=1 runs the broker with --data-dir (a directory kept after the
# run); MEMORY=1 with --memory-log (the log in the process's memory); the
# default is dev's default, a temporary directory removed at exit.
# BIN=/tmp/user360-old runs that build instead of the tree's (A/B).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3} RATE=${RATE:-5000} EVENTS=${EVENTS:-100000} REDIS_DB=${REDIS_DB:-4}
BATCH=${BATCH:-10} CONNS=${CONNS:-16} SEGMENTS=${SEGMENTS:-99} PERSIST=${PERSIST:-0} MEMORY=${MEMORY:-0}
# BIN=path runs that binary instead of building one from the tree
bin=${BIN:-$(mktemp -d)/user360}
[ -n "${BIN:-}" ] || go build -o "$bin" ./cmd/user360
for run in $(seq "$RUNS"); do
  data=$(mktemp -d)
  redis-cli -n "$REDIS_DB" flushdb >/dev/null
  persist=()
  [ "$PERSIST" = 1 ] && persist=(--data-dir "$data/log")
  [ "$MEMORY" = 1 ] && persist=(--memory-log)
  USER360_REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB USER360_DEV_WRITE_KEY=wk USER360_DEV_API_KEY=ak \
    "$bin" dev "${persist[@]}" >"$data/dev.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:8360/readyz >/dev/null 2>&1 && break; sleep 0.2; done
  "$bin" load --mode pipeline --rate "$RATE" --events "$EVENTS" --batch-size "$BATCH" --conns "$CONNS" \
    --extra-segments "$SEGMENTS" --stages --write-key wk --api-key ak | tail -2
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
done
redis-cli -n "$REDIS_DB" flushdb >/dev/null
