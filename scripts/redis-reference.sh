#!/usr/bin/env bash
# How fast this machine's Redis is right now, in the unit issue 3 uses to
# describe the machine ("Redis here runs about 200,000 four-command
# scripts/s"): redis-benchmark sends a four-command Lua script (HSET, HGET,
# INCR, EXPIRE on two keys, 100,000 random users) in
# pipelines of 64, over one connection (as one identity consumer does) and
# over four (Redis saturated), and prints scripts/s for each. Run it beside
# the identity benchmarks: the machine's speed drifts by ±30 % within
# minutes, and this tells a slow minute from a slow change.
#   scripts/redis-reference.sh            # 400,000 scripts a run
#   N=1000000 DB=5 scripts/redis-reference.sh
#   CONNS=1 scripts/redis-reference.sh    # one connection only
# Writes keys named user360-ref:* in database $DB (default 5) of
# $HOST:$PORT and deletes them afterwards (nothing else is touched).
set -euo pipefail
N=${N:-400000} DB=${DB:-5} HOST=${HOST:-127.0.0.1} PORT=${PORT:-6379}
script="redis.call('HSET',KEYS[1],'a',ARGV[1]) redis.call('HGET',KEYS[1],'a') redis.call('INCR',KEYS[2]) return redis.call('EXPIRE',KEYS[2],3600)"
cleanup() {
  redis-cli -h "$HOST" -p "$PORT" -n "$DB" --scan --pattern 'user360-ref:*' |
    xargs -r -n 1000 redis-cli -h "$HOST" -p "$PORT" -n "$DB" unlink >/dev/null
}
trap cleanup EXIT
for c in ${CONNS:-1 4}; do
  rps=$(redis-benchmark -h "$HOST" -p "$PORT" -q -n "$N" -P 64 -c "$c" -r 100000 --dbnum "$DB" \
    EVAL "$script" 2 'user360-ref:{u:__rand_int__}h' 'user360-ref:{u:__rand_int__}n' v 2>/dev/null |
    tr '\r' '\n' | awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($i == "requests") print $(i - 1)}')
  printf 'reference scripts/s, %d connection(s): %.0f\n' "$c" "$rps"
done
