package identity

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Held writes: a write-behind of planned messages, for a replay into a new
// generation (HoldWrites). Nothing reads a new generation before the
// replay switches to it, and the replay is its only writer, so a message
// that the profile cache plans exactly need not go through fast.lua's
// checks: one that merges nothing, on a profile whose state Redis
// confirmed (and that no sent message may still change: no plan on it
// awaits its reply) or that it creates, whose new identifiers no earlier
// message of the replay carried (so Redis cannot hold them). Its writes are kept
// in memory, merged with the later messages of the same profile, and
// written as plain commands when something else needs the profile in
// Redis (a message that goes to a script: its profiles are written first,
// so the log's order holds), when too much is held, and at the end of the
// replay (FlushHeld). A profile's hash fields are written once with their
// last value, its timeline entries in one LPUSH, trimmed to the cap
// readers read.
//
// What holding must not change (TestHeldWritesMatchFullScript compares it
// with apply.lua alone): every message a script would apply is applied,
// in the same order per profile; a message the dedup marks would refuse
// goes to the script (the seen filter sends every messageId it may have
// met before there); after a deletion in a tenant nothing more of it is
// held, as fast.lua's tombstone checks would be skipped.
type heldWrites struct {
	seen *seenFilter
	// ids: every identifier a message of this replay carried (an
	// identifier it has not met cannot be in Redis); sized for about three
	// identifiers a message
	ids *seenFilter
	// noHold: tenants with a deletion in this replay (under the cache's mutex)
	noHold map[string]bool
	// inflight: identifiers (cacheKey) of the profiles of sent plans not
	// yet answered: Redis may still change those profiles in ways the
	// cache does not know, so no message of theirs is held (under the
	// cache's mutex)
	inflight map[string]int

	mu       sync.Mutex
	profiles map[string]*heldProfile // cacheKey(tenant, pid)
	bytes    int                     // about the memory they take
	total    int64                   // messages ever held
	// over() beyond these (heldMaxProfiles, heldMaxBytes; tests lower them)
	maxProfiles, maxBytes int
}

// heldProfile is what is held for one profile.
type heldProfile struct {
	tenant, pid string
	prof        *cachedProfile // the cache entry whose heldN counts these
	created     bool           // a held message created it
	bornAt      string         // its creating message's event time (ms): its score in the profiles set
	ids         []string       // identifiers held messages added ("type:value")
	n           int            // messages
	token       string         // "_v" after the last one
	fields      map[string]heldField
	timeline    []string // entries oldest first, the newest cap to 2×cap of them
	cap         int
}

type heldField struct {
	val string
	del bool
}

// FlushHeldOver writes everything when more than this is held.
const (
	heldMaxProfiles = 20000
	heldMaxBytes    = 64 << 20
)

func newHeldWrites(expected int64) *heldWrites {
	return &heldWrites{seen: newSeenFilter(expected), ids: newSeenFilter(3 * expected), noHold: map[string]bool{}, inflight: map[string]int{}, profiles: map[string]*heldProfile{},
		maxProfiles: heldMaxProfiles, maxBytes: heldMaxBytes}
}

// add holds a planned message's writes (apply stage, in message order).
func (h *heldWrites) add(tenant string, f *fastPlan) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := cacheKey(tenant, f.pid)
	hp := h.profiles[k]
	if hp == nil {
		hp = &heldProfile{tenant: tenant, pid: f.pid, prof: f.prof, fields: make(map[string]heldField, len(f.ops.ops)+1)}
		h.profiles[k] = hp
		h.bytes += 200
	}
	hp.n++
	h.total++
	hp.token = f.token
	if f.created && !hp.created {
		hp.created, hp.bornAt = true, f.bornAt
	}
	hp.ids = append(hp.ids, f.newIDs...)
	for _, o := range f.ops.ops {
		if _, ok := hp.fields[o.field]; !ok {
			h.bytes += 64 + len(o.field)
		}
		hp.fields[o.field] = heldField{val: o.val, del: o.del}
	}
	if f.timeline != "" {
		hp.cap = f.cap
		hp.timeline = append(hp.timeline, f.timeline)
		h.bytes += len(f.timeline) + 16
		if over := len(hp.timeline) - hp.cap; over > 0 && over >= hp.cap {
			// only the newest cap entries can be read: drop the rest
			for _, e := range hp.timeline[:over] {
				h.bytes -= len(e) + 16
			}
			hp.timeline = append(hp.timeline[:0], hp.timeline[over:]...)
		}
	}
}

// anyInflight reports whether a sent plan on one of these identifiers
// awaits its reply; the caller holds the cache's mutex.
func (h *heldWrites) anyInflight(tenant string, ids []string) bool {
	for _, id := range ids {
		if h.inflight[cacheKey(tenant, id)] > 0 {
			return true
		}
	}
	return false
}

// markInflight notes a sent plan on a profile with these identifiers and
// returns what clearInflight releases; the caller holds the cache's mutex.
func (h *heldWrites) markInflight(tenant string, ids []string) []string {
	countIDs(h.inflight, tenant, ids, 1)
	return append([]string(nil), ids...)
}

// take removes and returns what is held for the given profiles (keys as
// cacheKey(tenant, pid)).
func (h *heldWrites) take(keys []string) []*heldProfile {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*heldProfile
	for _, k := range keys {
		if hp, ok := h.profiles[k]; ok {
			delete(h.profiles, k)
			h.bytes -= hp.size()
			out = append(out, hp)
		}
	}
	return out
}

// takeAll removes and returns everything held.
func (h *heldWrites) takeAll() []*heldProfile {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*heldProfile, 0, len(h.profiles))
	for _, hp := range h.profiles {
		out = append(out, hp)
	}
	h.profiles = map[string]*heldProfile{}
	h.bytes = 0
	return out
}

// over says FlushHeldOver has work.
func (h *heldWrites) over() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.profiles) > h.maxProfiles || h.bytes > h.maxBytes
}

func (hp *heldProfile) size() int {
	n := 200
	for k := range hp.fields {
		n += 64 + len(k)
	}
	for _, e := range hp.timeline {
		n += len(e) + 16
	}
	return n
}

// bornScore is a held profile's score in the profiles set: its creating
// message's event time (ms), as the scripts write it.
func bornScore(ms string) float64 {
	f, _ := strconv.ParseFloat(ms, 64)
	return f
}

// queueHeld adds the commands that write hp to a pipeline: a new
// profile's member of the profiles set, its new identifiers, the hash (deleted
// fields, then the rest with the last token), the timeline entries in one
// LPUSH, trimmed to the cap (readers read the newest cap entries; the
// scripts trim only past an eighth more, which shows the same entries).
func (s *Store) queueHeld(ctx context.Context, pipe redis.Pipeliner, hp *heldProfile) {
	pk := s.keyProfile(hp.tenant, hp.pid)
	if hp.created {
		pipe.ZAddArgs(ctx, s.keyProfiles(hp.tenant), redis.ZAddArgs{Members: []redis.Z{{Score: bornScore(hp.bornAt), Member: hp.pid}}})
	}
	for _, id := range hp.ids {
		pipe.Set(ctx, s.prefix(hp.tenant)+"id:"+id, hp.pid, 0)
	}
	var dels []string
	sets := make([]any, 0, 2+2*len(hp.fields))
	sets = append(sets, "_v", hp.token)
	for k, f := range hp.fields {
		if f.del {
			dels = append(dels, k)
		} else {
			sets = append(sets, k, f.val)
		}
	}
	if len(dels) > 0 {
		pipe.HDel(ctx, pk, dels...)
	}
	pipe.HSet(ctx, pk, sets...)
	if len(hp.timeline) > 0 {
		tk := s.keyTimeline(hp.tenant, hp.pid)
		entries := make([]any, len(hp.timeline))
		for i, e := range hp.timeline {
			entries[i] = e
		}
		pipe.LPush(ctx, tk, entries...)
		pipe.LTrim(ctx, tk, 0, int64(hp.cap)-1)
	}
}

// writeHeld writes held profiles and the dedup marks of held messages in
// one pipeline, before the scripts that follow them. It is a pipeline of
// its own, not the head of applyBatch's: applyBatch resends its pipeline
// after a NOSCRIPT, and a timeline's LPUSH must not run twice.
func (s *Store) writeHeld(ctx context.Context, hps []*heldProfile, marks []dedupMark, ttl int64, now time.Time) error {
	if len(hps) == 0 && len(marks) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, hp := range hps {
		s.queueHeld(ctx, pipe, hp)
	}
	s.queueMarks(ctx, pipe, marks, ttl, now)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("identity: write held profiles: %w", err)
	}
	return nil
}

// queueMarks adds one HSET per dedup bucket and tenant setting the marks
// to "1" (published, or nothing to publish), and an EXPIRE when ttl > 0.
// With ttl 0 (marking outputs published, in buckets the scripts wrote and
// set a TTL on) it adds an EXPIRE NX: a bucket that expired meanwhile (a
// duplicate found in the oldest bucket, published a minute later) is
// written anew and must not stay forever.
func (s *Store) queueMarks(ctx context.Context, pipe redis.Pipeliner, marks []dedupMark, ttl int64, now time.Time) {
	type group struct {
		tenant string
		bucket int64
	}
	fields := map[group][]any{}
	var order []group
	for i := range marks {
		d := &marks[i]
		g := group{d.tenant, d.bucket}
		if _, ok := fields[g]; !ok {
			order = append(order, g)
		}
		// a pointer: an any holds it without allocating (marks outlive
		// the pipeline's Exec)
		fields[g] = append(fields[g], &d.mid, "1")
	}
	for _, g := range order {
		k := s.keyDedup(g.tenant, g.bucket)
		pipe.HSet(ctx, k, fields[g]...)
		if ttl > 0 {
			pipe.Expire(ctx, k, time.Duration(ttl)*time.Second)
		} else {
			pipe.ExpireNX(ctx, k, time.Duration(s.bucketTTL(g.bucket, now))*time.Second)
		}
	}
}

// HoldWrites makes the processor (and those sharing its profile cache)
// hold the writes of the messages it can (see heldWrites), for a replay
// into a new generation that nothing else reads or writes until it ends;
// expected sizes the seen filter (the replay's record count). Call it
// before sharing the cache, and FlushHeld when the replay's messages are
// all handled: until then Redis lacks what is held.
func (p *Processor) HoldWrites(expected int64) {
	p.cache.mu.Lock()
	defer p.cache.mu.Unlock()
	if p.cache.held == nil {
		p.cache.held = newHeldWrites(expected)
	}
}

// FlushHeld writes everything held. No processor sharing the cache may be
// handling a batch meanwhile.
func (p *Processor) FlushHeld(ctx context.Context) error {
	h := p.cache.held
	if h == nil {
		return nil
	}
	hps := h.takeAll()
	if err := p.store.writeHeldChunked(ctx, hps); err != nil {
		return err
	}
	p.cache.released(hps)
	return nil
}

// HeldMessages is how many messages had their writes held so far.
func (p *Processor) HeldMessages() int64 {
	h := p.cache.held
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// FlushHeldOver writes everything held when more than the limits is held
// (between batches, like FlushHeld).
func (p *Processor) FlushHeldOver(ctx context.Context) error {
	if h := p.cache.held; h == nil || !h.over() {
		return nil
	}
	return p.FlushHeld(ctx)
}

// writeHeldChunked writes many held profiles, a pipeline per 1,000.
func (s *Store) writeHeldChunked(ctx context.Context, hps []*heldProfile) error {
	for i := 0; i < len(hps); i += 1000 {
		if err := s.writeHeld(ctx, hps[i:min(i+1000, len(hps))], nil, 0, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// applyHolding is apply for a processor that holds writes: the held
// messages are answered from their plans; the profiles the other messages
// need and the held messages' dedup marks are written; then the other
// messages go to the scripts as usual.
func (p *Processor) applyHolding(ctx context.Context, c *chunk, now time.Time, h *heldWrites) ([]applyResult, error) {
	in := c.inputs
	bucket, ttl := p.store.dedupBucket(now)
	res := make([]applyResult, len(in))
	var send []int
	var flush []string
	var marks []dedupMark
	for i := range in {
		x := &in[i]
		if x.fast != nil && x.fast.hold {
			h.add(x.Tenant, x.fast)
			res[i] = applyResult{Out: x.fast.out, Bucket: bucket}
			marks = append(marks, dedupMark{tenant: x.Tenant, mid: x.Msg.Mid, bucket: bucket})
			continue
		}
		flush = append(flush, x.flush...)
		send = append(send, i)
	}
	p.m.scripts.WithLabelValues("held").Add(float64(len(marks)))
	hps := h.take(flush)
	if err := p.store.writeHeld(ctx, hps, marks, ttl, now); err != nil {
		p.settle(in, nil, err)
		return nil, err
	}
	p.cache.released(hps)
	if len(send) == 0 {
		return res, nil
	}
	sub := &chunk{items: make([]pending, 0, len(send)), inputs: make([]applyInput, 0, len(send))}
	for _, i := range send {
		sub.items = append(sub.items, c.items[i])
		sub.inputs = append(sub.inputs, in[i])
	}
	r, err := p.applyRounds(ctx, sub, now)
	if err != nil {
		return nil, err
	}
	for k, i := range send {
		res[i] = r[k]
	}
	return res, nil
}
