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

// keys builds the Redis keys of one tenant; all share the {tenant} hash tag.
type keys struct{ prefix string }

func keysFor(ns, tenant string) keys { return keys{prefix: ns + ":{" + tenant + "}:seg:"} }

func (k keys) state(pid string) string   { return k.prefix + "p:" + pid }
func (k keys) outbox(pid string) string  { return k.prefix + "o:" + pid }
func (k keys) members(seg string) string { return k.prefix + "m:" + seg }
func (k keys) job(seg string) string     { return k.prefix + "job:" + seg }
func (k keys) lease(seg string) string   { return k.prefix + "lease:" + seg }
func (k keys) timers() string            { return k.prefix + "timers" }
func (k keys) pending() string           { return k.prefix + "pending" }

// claimScript returns due members of a sorted set and pushes their score
// to a lease deadline, so that another instance does not take them too.
// KEYS: zset. ARGV: max score, limit, lease score.
var claimScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], m) end
return due
`)

// leaseScript takes or renews a job lease held by token.
var leaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// releaseScript deletes a job lease if token still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// evalScript runs a script by hash and loads it when the server does not
// know it (EvalSha with fallback, also inside pipelines).
func evalScript(ctx context.Context, rc redis.Scripter, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	cmd := s.EvalSha(ctx, rc, keys, args...)
	if cmd.Err() != nil && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		return s.Eval(ctx, rc, keys, args...)
	}
	return cmd
}

// loadStates reads profile states and their outboxes in one pipeline
// (held states, with WriteBehind, from memory).
func (s *Service) loadStates(ctx context.Context, ps []*pstate) error {
	if len(ps) == 0 {
		return nil
	}
	if s.held != nil {
		var err error
		if ps, err = s.held.load(ps); err != nil || len(ps) == 0 {
			return err
		}
	}
	ps = skipUnread(ps)
	if len(ps) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	st := make([]*redis.SliceCmd, len(ps))
	for i, p := range ps {
		st[i] = pipe.HMGet(ctx, keysFor(s.cfg.Namespace, p.tenant).state(p.id), "v", "d", "t")
	}
	// Which of them have an outbox: a profile is in its tenant's pending
	// set whenever its outbox is not empty (commit.go), so one ZMSCORE per
	// tenant's run replaces a read of every outbox. (DiscardChanges: there
	// is never an outbox.)
	var pend []*redis.Cmd
	var runs [][]int
	if !s.cfg.DiscardChanges {
		runs = redisx.Runs(len(ps), pendingCheckSize, func(i int) string { return ps[i].tenant })
		for _, run := range runs {
			args := make([]any, 0, 2+len(run))
			args = append(args, "ZMSCORE", keysFor(s.cfg.Namespace, ps[run[0]].tenant).pending())
			for _, i := range run {
				args = append(args, ps[i].id)
			}
			pend = append(pend, pipe.Do(ctx, args...))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("segmenter: load states: %w", err)
	}
	ob, err := s.readOutboxes(ctx, ps, runs, pend)
	if err != nil {
		return err
	}
	for i, p := range ps {
		vals := st[i].Val()
		var ver int64
		var d, t string
		if len(vals) == 3 && vals[0] != nil {
			ver, _ = strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
			d, _ = vals[1].(string)
			t, _ = vals[2].(string)
		}
		if err := p.fill(ver, []byte(d), t); err != nil {
			return err
		}
		if ob[i] == nil {
			continue
		}
		for f, v := range ob[i].Val() {
			p.pending = append(p.pending, outEntry{field: f, value: v})
		}
		sort.Slice(p.pending, func(a, b int) bool { return p.pending[a].field < p.pending[b].field })
	}
	return nil
}

// pendingCheckSize is the most profiles one ZMSCORE asks about.
const pendingCheckSize = 512

// skipUnread fills the states marked unread as absent (once: fill clears
// the mark, so a state that lost a compare-and-set is read) and returns
// the others.
func skipUnread(ps []*pstate) []*pstate {
	rest := ps[:0:0]
	for _, p := range ps {
		if p.unread {
			_ = p.fill(0, nil, "")
			continue
		}
		rest = append(rest, p)
	}
	return rest
}

// readOutboxes reads the outboxes of the profiles that ZMSCORE found in
// the pending sets (pend[r] answers runs[r]); nil entries for the others.
func (s *Service) readOutboxes(ctx context.Context, ps []*pstate, runs [][]int, pend []*redis.Cmd) ([]*redis.MapStringStringCmd, error) {
	ob := make([]*redis.MapStringStringCmd, len(ps))
	var pipe redis.Pipeliner
	for r, run := range runs {
		scores, err := pend[r].Slice()
		if err != nil || len(scores) != len(run) {
			return nil, fmt.Errorf("segmenter: read pending outboxes: %d scores for %d profiles (%v)", len(scores), len(run), err)
		}
		for j, i := range run {
			if scores[j] == nil {
				continue
			}
			if pipe == nil {
				pipe = s.rdb.Pipeline()
			}
			ob[i] = pipe.HGetAll(ctx, keysFor(s.cfg.Namespace, ps[i].tenant).outbox(ps[i].id))
		}
	}
	if pipe == nil {
		return ob, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("segmenter: read outboxes: %w", err)
	}
	return ob, nil
}

// fill resets p to a stored state: its version (0 = none), the encoded
// State (d, which p may keep referring to) and the raw traits (t).
func (p *pstate) fill(ver int64, d []byte, t string) error {
	*p = pstate{tenant: p.tenant, id: p.id, ver: ver, epoch: p.epoch}
	if len(d) > 0 {
		ds, err := decodeStateSpan(d, &p.st, true)
		if err != nil {
			return fmt.Errorf("segmenter: decode state %s/%s: %w", p.tenant, p.id, err)
		}
		p.segsRaw, p.segsDue, p.segsIx, p.segsLazy = ds.segs, ds.due, ds.ix, ds.lazy
	}
	if t != "" {
		p.st.Traits = json.RawMessage(t)
	}
	return nil
}

// ProfileSegments lists the ids of the segments a profile is in (sorted).
// It implements the identity profile API's SegmentLister.
func (s *Service) ProfileSegments(ctx context.Context, tenant, profileID string) ([]string, error) {
	d, err := s.rdb.HGet(ctx, keysFor(s.cfg.Namespace, tenant).state(profileID), "d").Result()
	if errors.Is(err, redis.Nil) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("segmenter: read memberships: %w", err)
	}
	var st State
	if err := decodeState([]byte(d), &st); err != nil {
		return nil, fmt.Errorf("segmenter: decode state: %w", err)
	}
	ix := s.reg.index(tenant)
	out := []string{}
	for id, m := range st.Segs {
		if _, ok := ix.segs[id]; ok && m.In {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ScanMembers pages through a segment's member profile ids in the order
// they entered (then by id). cursor "" starts; the returned cursor is ""
// at the end; a member that stays in through a whole scan is returned
// exactly once. An unknown segment is ErrSegmentNotFound, a cursor it did
// not return ErrBadCursor.
func (s *Service) ScanMembers(ctx context.Context, tenant, segmentID, cursor string, limit int) ([]string, string, error) {
	if _, ok := s.reg.get(tenant, segmentID); !ok {
		return nil, "", fmt.Errorf("%w: %s", ErrSegmentNotFound, segmentID)
	}
	if limit <= 0 {
		limit = 100
	}
	ids, next, err := redisx.ZPage(ctx, s.rdb, keysFor(s.cfg.Namespace, tenant).members(segmentID), cursor, limit)
	if errors.Is(err, redisx.ErrBadCursor) {
		return nil, "", fmt.Errorf("%w: %w", ErrBadCursor, err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("segmenter: scan members: %w", err)
	}
	return ids, next, nil
}

// segmentSize is the number of members.
func (s *Service) segmentSize(ctx context.Context, tenant, seg string) (int64, error) {
	n, err := s.rdb.ZCard(ctx, keysFor(s.cfg.Namespace, tenant).members(seg)).Result()
	if err != nil {
		return 0, fmt.Errorf("segmenter: segment size: %w", err)
	}
	return n, nil
}
