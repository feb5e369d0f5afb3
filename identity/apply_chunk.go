package identity

import (
	"context"
	"encoding/json"
	"time"
)

// fallbackChunks is how many chunks after one whose plans did not all
// hold send every plan with its message (the fallback): plans that fail
// come in streaks (another processor wrote the same people, the cache
// went stale), and a fallback costs less than a second round.
const fallbackChunks = 16

// apply runs one chunk's messages through the store and keeps the profile
// cache in step with the replies. A message that a plan which did not hold
// stopped is planned again and resent, every plan then with its message
// (the fallback), so a chunk takes at most two rounds unless messages fail.
func (p *Processor) apply(ctx context.Context, c *chunk, now time.Time) ([]applyResult, error) {
	if h := p.cache.held; h != nil {
		return p.applyHolding(ctx, c, now, h)
	}
	return p.applyRounds(ctx, c, now)
}

// applyRounds sends a chunk's messages to the scripts (apply's rounds).
func (p *Processor) applyRounds(ctx context.Context, c *chunk, now time.Time) ([]applyResult, error) {
	fallback := p.fallbackLeft.Load() > 0
	if fallback {
		p.fallbackLeft.Add(-1)
	}
	in := c.inputs
	res := make([]applyResult, len(in))
	todo := make([]int, len(in))
	for i := range todo {
		todo[i] = i
	}
	sub := in // the first round sends the chunk as it is
	for round := 0; len(todo) > 0; round++ {
		if round > 0 {
			sub = make([]applyInput, 0, len(todo))
			for _, i := range todo {
				sub = append(sub, in[i])
			}
		}
		r, err := p.store.applyBatch(ctx, sub, now, fallback || round > 0)
		if err != nil {
			p.settle(sub, nil, err)
			return nil, err
		}
		p.settle(sub, r, nil)
		var next []int
		for k, i := range todo {
			if r[k].NotRun {
				next = append(next, i)
				continue
			}
			res[i] = r[k]
		}
		if len(next) > 0 {
			p.fallbackLeft.Store(fallbackChunks)
			p.m.scripts.WithLabelValues("halted").Add(float64(len(next)))
			for _, i := range next {
				in[i].fast, in[i].pending, in[i].inflight = nil, nil, nil
				p.plan(&in[i], c.items[i].rules)
			}
		}
		todo = next
	}
	p.countPaths(in, res)
	return res, nil
}

// countPaths counts how the messages of a chunk reached Redis.
func (p *Processor) countPaths(in []applyInput, res []applyResult) {
	var fast, replanned, merges int
	for i := range res {
		if in[i].fast != nil {
			fast++
			switch {
			case res[i].Replanned:
				replanned++
			case len(res[i].Out.Ab) > 0:
				merges++
			}
		}
	}
	p.m.scripts.WithLabelValues("fast_merge").Add(float64(merges))
	p.m.scripts.WithLabelValues("fast").Add(float64(fast - replanned))
	p.m.scripts.WithLabelValues("full").Add(float64(len(in) - fast))
	p.m.scripts.WithLabelValues("replanned").Add(float64(replanned))
}

// settle updates the cache with a chunk's replies (res is nil when the
// chunk failed as a whole). A planned message that did not apply as
// planned (or did not run) drops its profile, whose cached state was
// speculative; the full logic's replies fill the cache; pending
// identifiers are released.
func (p *Processor) settle(in []applyInput, res []applyResult, err error) {
	c := p.cache
	for i := range in {
		x := &in[i]
		var r *applyResult
		if err == nil && i < len(res) {
			r = &res[i]
		}
		if x.fast != nil && (r == nil || r.NotRun || r.Err != nil || r.Replanned || r.Dup) {
			c.drop(x.Tenant, x.fast.pid)
		} else if x.fast != nil && x.fast.fallback {
			c.confirm(x.fast.prof, x.fast.token)
		}
		if r != nil && !r.NotRun && r.Err == nil && !r.Dup && (x.fast == nil || r.Replanned) {
			switch r.Out.S {
			case outOK:
				c.fill(x.Tenant, &r.Out, r.Token, r.Metas, r.Counts)
			case outDeleted:
				for _, d := range r.Out.Del {
					var pid string
					if len(d) > 0 && json.Unmarshal(d[0], &pid) == nil {
						c.drop(x.Tenant, pid)
					}
				}
			}
		}
		if r != nil && r.Tombstones != tombstonesUnknown && (i == len(in)-1 || in[i+1].Tenant != x.Tenant) {
			// (a tenant's run's last message: one note a call)
			c.noteTombstones(x.Tenant, r.Tombstones == tombstonesSome)
		}
		if x.pending != nil {
			c.clearPending(x.Tenant, x.pending)
		}
		if x.inflight != nil {
			c.clearInflight(x.Tenant, x.inflight)
		}
	}
}
