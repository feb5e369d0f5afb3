package segmenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/redisx"
)

// commitScript writes profile states, each only if its version is still
// the one read (compare-and-set), together with its outbox entries, its
// timer and the membership sets, each profile atomically. One call writes
// up to commitCallSize profiles of one tenant: every key is derived from
// the tenant's prefix, so all live in the slot KEYS[1] declares.
//
// KEYS: pending (of the tenant).
// ARGV: prefix "<ns>:{<tenant>}:seg:", now ms, then per profile: profile
// id, expected version, state JSON, due ms ("" = none, "-" = none and
// there was none), raw traits, n outbox entries, n×(field, value), m
// changed segments, m×(segment id, "+" member / "-" not). A profile
// enters a segment's member set with score now: members are listed in the
// order they entered, and a new member is inserted at the set's end, which
// costs Redis far less than a place among equal scores chosen by comparing
// ids (15 % of Redis's CPU in the end-to-end benchmark, see BENCHMARKS).
//
// Invariants (with clearScript and the sweeper's dropPendingScript): a
// profile has a timer exactly when its state has a deadline, and is in
// the pending set whenever its outbox is not empty.
// Returns the new version of each profile, or -1 where the version moved.
var commitScript = redis.NewScript(`
local P, now, pend = ARGV[1], ARGV[2], KEYS[1]
local timers = P .. 'timers'
local function hsetRange(key, from, to)
  for a = from, to, 1000 do
    redis.call('HSET', key, unpack(ARGV, a, math.min(a + 999, to)))
  end
end
local res = {}
local i = 3
while i <= #ARGV do
  local pid, want = ARGV[i], ARGV[i + 1]
  local nout = tonumber(ARGV[i + 5])
  local outAt = i + 6
  local segAt = outAt + 2 * nout + 1
  local nseg = tonumber(ARGV[segAt - 1])
  local nexti = segAt + 2 * nseg
  local sk = P .. 'p:' .. pid
  local v = redis.call('HGET', sk, 'v') or '0'
  if v ~= want then
    res[#res + 1] = -1
  else
    local nv = tonumber(v) + 1
    redis.call('HSET', sk, 'v', nv, 'd', ARGV[i + 2], 't', ARGV[i + 4])
    local due = ARGV[i + 3]
    if due == '' then
      redis.call('ZREM', timers, pid)
    elseif due ~= '-' then
      redis.call('ZADD', timers, due, pid)
    end
    if nout > 0 then
      hsetRange(P .. 'o:' .. pid, outAt, outAt + 2 * nout - 1)
      redis.call('ZADD', pend, 'NX', now, pid)
    end
    for j = segAt, nexti - 1, 2 do
      if ARGV[j + 1] == '+' then
        redis.call('ZADD', P .. 'm:' .. ARGV[j], now, pid)
      else
        redis.call('ZREM', P .. 'm:' .. ARGV[j], pid)
      end
    end
    res[#res + 1] = nv
  end
  i = nexti
end
return res
`)

// clearScript removes published outbox entries of up to commitCallSize
// profiles of one tenant.
// KEYS: pending. ARGV: prefix, then per profile: profile id, n, n fields.
var clearScript = redis.NewScript(`
local P = ARGV[1]
local i = 2
while i <= #ARGV do
  local pid, n = ARGV[i], tonumber(ARGV[i + 1])
  local ok = P .. 'o:' .. pid
  for a = i + 2, i + 1 + n, 1000 do
    redis.call('HDEL', ok, unpack(ARGV, a, math.min(a + 999, i + 1 + n)))
  end
  if redis.call('HLEN', ok) == 0 then redis.call('ZREM', KEYS[1], pid) end
  i = i + 2 + n
end
return 1
`)

// dropPendingScript removes a profile from the pending set if its outbox
// is empty (the sweeper, after publishing what it found).
// KEYS: pending. ARGV: outbox key, profile id.
var dropPendingScript = redis.NewScript(`
if redis.call('EXISTS', ARGV[1]) == 0 then redis.call('ZREM', KEYS[1], ARGV[2]) end
return 1
`)

// forgetTraitsScript drops the stored traits of a profile state, if there
// is one, and moves its version (so that a writer that read it before
// recomputes). KEYS: pending (the slot). ARGV: prefix, then profile ids.
var forgetTraitsScript = redis.NewScript(`
for i = 2, #ARGV do
  local k = ARGV[1] .. 'p:' .. ARGV[i]
  if redis.call('HDEL', k, 't') == 1 then redis.call('HINCRBY', k, 'v', 1) end
end
return 1
`)

// forgetTraits drops the stored traits of profiles whose updates were not
// applied (their tenant has no segment): traits kept from before would be
// outdated, and a backfill prefers stored traits to scanned ones.
func (s *Service) forgetTraits(ctx context.Context, profiles []stateKey) error {
	if len(profiles) == 0 || s.cfg.WriteBehind {
		return nil // (a replay's new generation holds no older states)
	}
	ps := make([]*pstate, len(profiles))
	for i, k := range profiles {
		ps[i] = &pstate{tenant: k.tenant, id: k.id}
	}
	head := func(tenant string) []any { return []any{keysFor(s.cfg.Namespace, tenant).prefix} }
	calls, _ := tenantCalls(ps, head, func(p *pstate, args []any) ([]any, error) { return append(args, p.id), nil })
	if _, err := s.runCalls(ctx, forgetTraitsScript, calls); err != nil {
		return fmt.Errorf("segmenter: forget traits: %w", err)
	}
	return nil
}

// commitCallSize is the most profiles one commit or clear call writes.
const commitCallSize = 64

// tenantCall is one script call: profiles of one tenant and their
// arguments after the call's own.
type tenantCall struct {
	tenant string
	ps     []*pstate
	args   []any
}

// tenantCalls groups profiles by tenant into calls of at most
// commitCallSize (in their order); add appends one profile's arguments.
func tenantCalls(ps []*pstate, head func(tenant string) []any, add func(p *pstate, args []any) ([]any, error)) ([]*tenantCall, error) {
	runs := redisx.Runs(len(ps), commitCallSize, func(i int) string { return ps[i].tenant })
	calls := make([]*tenantCall, len(runs))
	for r, run := range runs {
		c := &tenantCall{tenant: ps[run[0]].tenant, args: head(ps[run[0]].tenant)}
		for _, i := range run {
			args, err := add(ps[i], c.args)
			if err != nil {
				return nil, err
			}
			c.args = args
			c.ps = append(c.ps, ps[i])
		}
		calls[r] = c
	}
	return calls, nil
}

// runCalls runs a script's calls in one pipeline, loading the script once
// when Redis does not know it.
func (s *Service) runCalls(ctx context.Context, script *redis.Script, calls []*tenantCall) ([]*redis.Cmd, error) {
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, c := range calls {
			cmds[i] = script.EvalSha(ctx, pipe, []string{keysFor(s.cfg.Namespace, c.tenant).pending()}, c.args...)
		}
		_, err := pipe.Exec(ctx)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && attempt == 0 {
			if err := script.Load(ctx, s.rdb).Err(); err != nil {
				return nil, fmt.Errorf("segmenter: load script: %w", err)
			}
			continue
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		return cmds, nil
	}
}

// commitStates writes the dirty states in one pipeline, one script call
// per tenant's run of profiles; it returns the states that lost a
// compare-and-set race (to be recomputed).
func (s *Service) commitStates(ctx context.Context, ps []*pstate, nowMs int64) ([]*pstate, error) {
	dirty := make([]*pstate, 0, len(ps))
	for _, p := range ps {
		if p.dirty {
			dirty = append(dirty, p)
		}
	}
	if len(dirty) == 0 {
		return nil, nil
	}
	if s.held != nil {
		return s.held.commit(ctx, s, dirty, nowMs)
	}
	head := func(tenant string) []any {
		return []any{keysFor(s.cfg.Namespace, tenant).prefix, nowMs}
	}
	calls, err := tenantCalls(dirty, head, s.commitArgs)
	if err != nil {
		return nil, err
	}
	cmds, err := s.runCalls(ctx, commitScript, calls)
	if err != nil {
		return nil, fmt.Errorf("segmenter: commit states: %w", err)
	}
	var lost []*pstate
	for i, c := range calls {
		vs, err := cmds[i].Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("segmenter: commit state: %w", err)
		}
		if len(vs) != len(c.ps) {
			return nil, fmt.Errorf("segmenter: commit state: %d replies for %d profiles", len(vs), len(c.ps))
		}
		for k, v := range vs {
			if v < 0 {
				lost = append(lost, c.ps[k])
				continue
			}
			c.ps[k].ver = v
		}
	}
	return lost, nil
}

// commitArgs appends one profile's commit arguments: its new outbox
// entries are numbered and kept as pending until published.
func (s *Service) commitArgs(p *pstate, args []any) ([]any, error) {
	fields := make([]outEntry, 0, len(p.out))
	for i := range p.out {
		if s.cfg.DiscardChanges {
			p.st.OutSeq++ // numbered as if written
			continue
		}
		b, err := json.Marshal(&p.out[i])
		if err != nil {
			return nil, fmt.Errorf("segmenter: encode change: %w", err)
		}
		p.st.OutSeq++
		fields = append(fields, outEntry{field: fmt.Sprintf("%016d", p.st.OutSeq), value: string(b), change: &p.out[i]})
	}
	blob, due, segs := p.encodeForCommit()
	if due == "" && p.segsDue == 0 && (p.ver == 0 || p.segsRaw != nil) {
		due = "-" // no deadline before (as read) nor now: no timer to remove
	}
	args = append(args, p.id, strconv.FormatInt(p.ver, 10), blob, due, []byte(p.st.Traits), len(fields))
	for _, f := range fields {
		args = append(args, f.field, f.value)
	}
	args = append(args, len(segs))
	for _, seg := range segs {
		args = append(args, seg, memberSign(p.isMember(seg)))
	}
	p.pending = append(p.pending, fields...)
	return args, nil
}

// encodeForCommit encodes p's state for the commit script: the State
// JSON, the next deadline ("" = none) and the segments whose membership
// changed (sorted).
func (p *pstate) encodeForCommit() (blob []byte, due string, segs []string) {
	segsRaw := p.segsRaw
	if p.segsMut {
		segsRaw = nil
		p.segs() // (never lazy when changed)
	}
	blob, _ = encodeStateWith(&p.st, segsRaw)
	if d := p.nextDue(); d > 0 {
		due = strconv.FormatInt(d, 10)
	}
	segs = make([]string, 0, len(p.changed))
	for seg := range p.changed {
		segs = append(segs, seg)
	}
	sort.Strings(segs)
	return blob, due, segs
}

// isMember says whether p is in segment seg now.
func (p *pstate) isMember(seg string) bool {
	m, ok := p.lookup(seg)
	return ok && m.In
}

// memberSign is the commit script's membership argument.
func memberSign(in bool) string {
	if in {
		return "+"
	}
	return "-"
}

// clearOutboxes removes published entries.
func (s *Service) clearOutboxes(ctx context.Context, ps []*pstate) error {
	todo := make([]*pstate, 0, len(ps))
	for _, p := range ps {
		if len(p.pending) > 0 {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	head := func(tenant string) []any { return []any{keysFor(s.cfg.Namespace, tenant).prefix} }
	calls, _ := tenantCalls(todo, head, func(p *pstate, args []any) ([]any, error) {
		args = append(args, p.id, len(p.pending))
		for _, e := range p.pending {
			args = append(args, e.field)
		}
		return args, nil
	})
	if _, err := s.runCalls(ctx, clearScript, calls); err != nil {
		return fmt.Errorf("segmenter: clear outboxes: %w", err)
	}
	return nil
}
