package activation

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every script touches keys of one tenant and one destination only; they
// share the hash tag {tenant}, so the scripts run on Redis Cluster.

// enqueue parks a job: KEYS q jobs due stats; ARGV id job now profile.
// It is idempotent on the delivery id while the job is pending.
var scriptEnqueue = redis.NewScript(`
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
if redis.call('RPUSH', KEYS[1], ARGV[1]) == 1 then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4]) end
redis.call('HINCRBY', KEYS[4], 'enqueued', 1)
return 1`)

// claim leases due queue heads: KEYS due; ARGV now leaseUntil n.
var scriptClaim = redis.NewScript(`
local ps = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, p in ipairs(ps) do redis.call('ZADD', KEYS[1], ARGV[2], p) end
return ps`)

// head returns the job at the head of a queue: KEYS q jobs due; ARGV
// profile. An empty queue leaves the due set.
var scriptHead = redis.NewScript(`
while true do
  local id = redis.call('LINDEX', KEYS[1], 0)
  if not id then redis.call('ZREM', KEYS[3], ARGV[1]); return false end
  local j = redis.call('HGET', KEYS[2], id)
  if j then return j end
  redis.call('LPOP', KEYS[1])
end`)

// settle records the outcome of a call to a queue head:
// KEYS q jobs due stats fail failz;
// ARGV mode id profile now dueAt json wasRetrying latencyMs bucket maxFailures.
// mode: ok (delivered), retry (keep the head, due at dueAt), fail (to the
// failures), release (give the lease back untouched).
var scriptSettle = redis.NewScript(`
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[2] then return 0 end
local mode = ARGV[1]
if mode == 'release' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3]); return 1 end
if mode == 'retry' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[6])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
  if ARGV[7] == '0' then redis.call('HINCRBY', KEYS[4], 'retrying', 1) end
  redis.call('HINCRBY', KEYS[4], 'attempts_failed', 1)
  return 1
end
redis.call('LPOP', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[2])
if redis.call('LLEN', KEYS[1]) > 0 then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3]) else redis.call('ZREM', KEYS[3], ARGV[3]) end
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[4], 'retrying', -1) end
if mode == 'ok' then
  redis.call('HINCRBY', KEYS[4], 'delivered', 1)
  redis.call('HINCRBY', KEYS[4], 'latency_ms_sum', ARGV[8])
  redis.call('HINCRBY', KEYS[4], ARGV[9], 1)
  return 1
end
redis.call('HSET', KEYS[5], ARGV[2], ARGV[6])
redis.call('ZADD', KEYS[6], ARGV[4], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'failed', 1)
local n = redis.call('ZCARD', KEYS[6]) - tonumber(ARGV[10])
if n > 0 then
  local old = redis.call('ZRANGE', KEYS[6], 0, n - 1)
  for _, id in ipairs(old) do redis.call('HDEL', KEYS[5], id) end
  redis.call('ZREMRANGEBYRANK', KEYS[6], 0, n - 1)
end
return 1`)

// replay moves a failure back into its queue: KEYS q jobs due fail failz;
// ARGV id profile job now. Returns 0 when the failure is gone, 2 when the
// job is already pending.
var scriptReplay = redis.NewScript(`
if redis.call('HDEL', KEYS[4], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then return 2 end
if redis.call('RPUSH', KEYS[1], ARGV[1]) == 1 then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2]) end
return 1`)

var allScripts = []*redis.Script{scriptEnqueue, scriptClaim, scriptHead, scriptSettle, scriptReplay}

// scriptCall is one script invocation of a pipeline.
type scriptCall struct {
	s    *redis.Script
	keys []string
	args []any
}

// runScripts runs calls in one pipeline (EvalSha) and loads the scripts
// and runs again when the server does not know them (NOSCRIPT). The calls
// must be idempotent. Per-call errors other than redis.Nil are returned.
func runScripts(ctx context.Context, rdb redis.UniversalClient, calls []scriptCall) ([]*redis.Cmd, error) {
	if len(calls) == 0 {
		return nil, nil
	}
	for attempt := 0; ; attempt++ {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, c := range calls {
			cmds[i] = c.s.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		_, _ = pipe.Exec(ctx)
		noScript := false
		var firstErr error
		for _, cmd := range cmds {
			err := cmd.Err()
			if err == nil || err == redis.Nil {
				continue
			}
			if strings.HasPrefix(err.Error(), "NOSCRIPT") {
				noScript = true
				continue
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if !noScript || attempt > 0 {
			if firstErr == nil && noScript {
				firstErr = fmt.Errorf("activation: scripts not loaded")
			}
			if firstErr != nil {
				return cmds, fmt.Errorf("activation: redis: %w", firstErr)
			}
			return cmds, nil
		}
		for _, s := range allScripts {
			if err := s.Load(ctx, rdb).Err(); err != nil {
				return cmds, fmt.Errorf("activation: load script: %w", err)
			}
		}
	}
}
