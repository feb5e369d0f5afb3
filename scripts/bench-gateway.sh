#!/usr/bin/env bash
# Measures the gateway the way docs/BENCHMARKS.md reports it: `user360 dev
# --roles ingest` (ROLES=ingest,identity,segmenter,activation for the whole pipeline)
# with the broker log persisted (--data-dir) and the load tool on the same
# machine, all on loopback. Each run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/user360}
DURATION=${DURATION:-20s}
PORT=${PORT:-18360}
KPORT=${KPORT:-19092}
DATA=$(mktemp -d)
export USER360_DEV_WRITE_KEY=wk_bench USER360_DEV_API_KEY=ak_bench
"$BIN" dev --roles "${ROLES:-ingest}" --http-addr 127.0.0.1:$PORT --kafka-addr 127.0.0.1:$KPORT --data-dir "$DATA" --log-level warn >/dev/null 2>"$DATA.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(go version)"
run() { echo "== $*"; "$BIN" load --url "http://127.0.0.1:$PORT" --write-key wk_bench --duration "$DURATION" "$@"; }
run --mode batch --conns 16 --batch-size 100 --event-bytes 300
run --mode track --conns 32
run --mode track --conns 256
