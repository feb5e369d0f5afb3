package identity

import (
	"context"
	"encoding/json"
)

// apply runs one chunk's scripts and keeps the profile cache in step with
// the replies.
func (p *Processor) apply(ctx context.Context, in []applyInput) ([]applyResult, error) {
	res, err := p.store.applyBatch(ctx, in)
	p.settle(in, res, err)
	if err != nil {
		return nil, err
	}
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
	return res, nil
}

// settle updates the cache with a chunk's replies (res is nil when the
// chunk failed as a whole). A planned message that did not apply as
// planned drops its profile, whose cached state was speculative; the full
// logic's replies fill the cache; pending identifiers are released.
func (p *Processor) settle(in []applyInput, res []applyResult, err error) {
	c := p.cache
	for i := range in {
		x := &in[i]
		var r *applyResult
		if err == nil && i < len(res) {
			r = &res[i]
		}
		if x.fast != nil && (r == nil || r.Err != nil || r.Replanned || r.Dup) {
			c.drop(x.Tenant, x.fast.pid)
		}
		if r != nil && r.Err == nil && !r.Dup && (x.fast == nil || r.Replanned) {
			switch r.Out.S {
			case outOK:
				c.fill(x.Tenant, &r.Out, r.Token, r.Metas)
			case outDeleted:
				for _, d := range r.Out.Del {
					var pid string
					if len(d) > 0 && json.Unmarshal(d[0], &pid) == nil {
						c.drop(x.Tenant, pid)
					}
				}
			}
		}
		if x.pending != nil {
			c.clearPending(x.Tenant, x.pending)
		}
	}
}
