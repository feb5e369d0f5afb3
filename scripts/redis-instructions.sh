#!/usr/bin/env bash
# Compare what two commits cost Redis in instructions, not seconds: starts
# a redis-server under valgrind's callgrind on a spare port, runs the
# identity package's BenchmarkScriptWorkload (a fixed workload of
# identifies and known users' tracks) built at each commit against it, in
# turns, and prints the instructions Redis executed for each run (counters
# zeroed before, dumped after), after one run of each that is not counted. The
# count varies by about 1 % from run to run (hash seeds, the cleanup's
# scans, the keyspace's growth), whatever the machine is doing, so it
# resolves changes to the scripts that timing on this machine cannot.
#   scripts/redis-instructions.sh <commit A> <commit B> [rounds]
#   scripts/redis-instructions.sh HEAD~1 . 3
#   BENCH=ScriptWorkloadMerges scripts/redis-instructions.sh HEAD~1 . 3
# A or B may be "." for the working tree; BENCH names another workload
# (BenchmarkScriptWorkloadMerges: merges). Needs valgrind and redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,13p "$0"; exit 2; }
A=$1 B=$2 ROUNDS=${3:-3} PORT=${PORT:-6391} BENCH=${BENCH:-ScriptWorkload}
tmp=$(mktemp -d)
. scripts/test-binaries.sh
cleanup() {
  [ -n "${vg:-}" ] && kill "$vg" 2>/dev/null && wait "$vg" 2>/dev/null || true
  remove_worktrees
  rm -rf "$tmp"
}
trap cleanup EXIT
build() { build_test_binary "$1" "$2" ./identity/; }
build "$A" a
build "$B" b
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" redis-server --port "$PORT" --save "" --appendonly no >"$tmp/valgrind.log" 2>&1 &
vg=$!
for _ in $(seq 1 60); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done
count() { # name: sets result to the instructions of one run
  callgrind_control -z "$vg" >/dev/null 2>&1
  local out
  out=$(cd identity && USER360_TEST_REDIS_URL="redis://127.0.0.1:$PORT/0" "$tmp/$1.test" \
    -test.run '^$' -test.bench "^Benchmark$BENCH\$" -test.benchtime 1x)
  case $out in
  *"Benchmark$BENCH"*) ;;
  *) echo "$1: no Benchmark$BENCH ran (a commit before it?)" >&2; exit 1 ;;
  esac
  dumps=$((dumps + 1))
  callgrind_control -d "$vg" >/dev/null 2>&1
  local f=$tmp/cg.$vg.$dumps
  for _ in $(seq 1 150); do
    grep -qs '^summary:' "$f" && break
    sleep 0.2
  done
  result=$(grep -h '^summary:' "$f" | awk '{print $2}')
}
dumps=0
# a run of each first that counts for neither: the first run of a
# commit's script costs a few per cent more (Redis compiles it; the
# keyspace grows)
for n in a b; do
  count "$n"
  echo "warm-up ($(echo "$n" | tr ab AB), not counted): $result instructions"
done
ratios=""
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="a b"; else order="b a"; fi
  for n in $order; do
    count "$n"
    echo "round $r: $(echo "$n" | tr ab AB) $result instructions"
    eval "last_$n=$result"
  done
  ratios="$ratios $(awk -v a="$last_a" -v b="$last_b" 'BEGIN {printf "%.4f", b / a}')"
done
echo "$ratios" | awk '{s = 0; lo = $1; hi = $1; for (i = 1; i <= NF; i++) {s += $i; if ($i < lo) lo = $i; if ($i > hi) hi = $i}
  printf "B/A instructions  mean %.3f  range %.3f–%.3f  (%d pairs)\n", s / NF, lo, hi, NF}'
