#!/usr/bin/env bash
# Whole-pipeline throughput with known users: a fresh `user360 dev` per run
# (every role in one process, the embedded broker, the local Redis in DB
# ${REDIS_DB:-4}), 100 segments (created by a 100-event pipeline run), then
# `user360 load --mode batch` sends tracks of ${USERS:-10000} users for
# ${DURATION:-5s} as fast as the gateway takes them (or at RATE events/s:
# whether the pipeline sustains that rate, with little left to drain when
# the sending stops); the script reads the process's metrics every second
# until the segmenter has applied every update and prints events/s from the
# first send to the last update, the drain (the time after the last send),
# and the CPU an event of `user360 dev`, Redis and the load tool.
# (scripts/bench-pipeline.sh measures the other extreme: every event a new
# user who enters a segment.)
#   RUNS=3 USERS=10000 DURATION=5s ./scripts/bench-pipeline-mix.sh
#   RATE=36000 DURATION=20s ./scripts/bench-pipeline-mix.sh
#   BIN=/tmp/user360-old ./scripts/bench-pipeline-mix.sh   (A/B a build)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3} USERS=${USERS:-10000} DURATION=${DURATION:-5s} REDIS_DB=${REDIS_DB:-4} RATE=${RATE:-0}
# BIN=path runs that binary instead of building one from the tree
bin=${BIN:-$(mktemp -d)/user360}
[ -n "${BIN:-}" ] || go build -o "$bin" ./cmd/user360
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# CPU (user + system) of a process in clock ticks, and of the Redis server in s
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
redis_cpu() { redis-cli info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.3f", s}'; }
# sum of a counter's samples whose labels match $2
metric() {
  curl -s http://127.0.0.1:8360/metrics | awk -v m="$1" -v l="$2" 'index($0, m"{") == 1 && $0 ~ l {s += $NF} END {printf "%d", s}'
}
for run in $(seq "$RUNS"); do
  redis-cli -n "$REDIS_DB" flushdb >/dev/null
  USER360_REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB USER360_DEV_WRITE_KEY=wk USER360_DEV_API_KEY=ak \
    "$bin" dev >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:8360/readyz >/dev/null 2>&1 && break; sleep 0.2; done
  "$bin" load --mode pipeline --rate 0 --events 100 --batch-size 10 --conns 4 --extra-segments 99 \
    --write-key wk --api-key ak >/dev/null
  base=$(metric user360_segmenter_updates_total applied)
  start=$(date +%s.%N) ticks0=$(ticks "$pid") rcpu0=$(redis_cpu)
  TIMEFORMAT='%U %S'
  { time "$bin" load --mode batch --duration "$DURATION" --rate "$RATE" --users "$USERS" --batch-size 100 --conns 8 \
      --write-key wk >"$out/load"; } 2>"$out/time"
  sent=$(grep -o 'events=[0-9]*' "$out/load" | cut -d= -f2)
  sent_t=$(date +%s.%N)
  last=$base; last_t=$start
  while sleep 1; do
    n=$(metric user360_segmenter_updates_total applied)
    if [ "$n" = "$last" ]; then break; fi
    last=$n; last_t=$(date +%s.%N)
  done
  events=$(metric user360_identity_messages_total 'type="track"')
  ticks1=$(ticks "$pid") rcpu1=$(redis_cpu)
  echo "sent=$sent tracks_applied=$events segmenter_updates=$((last - base)) elapsed=$(echo "$last_t - $start" | bc)s drain=$(echo "$last_t - $sent_t" | bc)s pipeline_events/s=$(echo "$events / ($last_t - $start)" | bc)"
  # CPU an event: the dev process, Redis, and the load tool (whose work is
  # the same in every run: it tells how fast the machine was)
  echo "cpu_us/event dev=$(echo "scale=1; ($ticks1 - $ticks0) * 1000000 / $(getconf CLK_TCK) / $sent" | bc)" \
    "redis=$(echo "scale=1; ($rcpu1 - $rcpu0) * 1000000 / $sent" | bc)" \
    "load=$(awk -v n="$sent" '{printf "%.1f", ($1 + $2) * 1000000 / n}' "$out/time")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
redis-cli -n "$REDIS_DB" flushdb >/dev/null
