package segmenter

import (
	"context"
	"slices"
	"sync"
)

// pubOrder keeps the publishing of each profile's outbox in the order of
// its writers within this process, now that publishing may lag behind the
// commit (Stage publishes in its finish, while the consumer applies the
// next batch). Every writer (a batch, a timer, a backfill step, the
// sweeper) takes a ticket on its profiles before it reads them; it
// publishes only after the tickets taken before it on the same profiles
// are released, and skips outbox entries that an earlier writer already
// published (their field is at most the profile's sent mark). A writer
// publishes every entry of the outbox it read, oldest first, so whoever
// publishes first publishes the older entries too: per profile, entries
// reach Kafka in order and, in normal operation, once.
type pubOrder struct {
	mu    sync.Mutex
	profs map[string]*profOrder
}

// profOrder is one profile's tickets, in the order they were taken, and
// the highest outbox field a released writer published ("" = none).
type profOrder struct {
	tickets []*pubTicket
	sent    string
}

// pubTicket is a writer's place in line on each of its profiles.
type pubTicket struct {
	done   chan struct{}
	closed bool // done is closed (under pubOrder.mu)
}

// close releases t's waiters (once; the caller holds pubOrder.mu).
func (t *pubTicket) close() {
	if !t.closed {
		t.closed = true
		close(t.done)
	}
}

func newPubOrder() *pubOrder { return &pubOrder{profs: map[string]*profOrder{}} }

func orderKey(p *pstate) string { return p.tenant + "/" + p.id }

// enter takes one ticket on every profile of ps.
func (o *pubOrder) enter(ps []*pstate) *pubTicket {
	t := &pubTicket{done: make(chan struct{})}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range ps {
		po := o.profs[orderKey(p)]
		if po == nil {
			po = &profOrder{}
			o.profs[orderKey(p)] = po
		}
		po.tickets = append(po.tickets, t)
	}
	return t
}

// wait returns once no ticket taken before t on a profile of ps is left,
// or when ctx ends.
func (o *pubOrder) wait(ctx context.Context, ps []*pstate, t *pubTicket) error {
	for _, p := range ps {
		for {
			o.mu.Lock()
			po := o.profs[orderKey(p)]
			var ahead chan struct{}
			if po != nil && len(po.tickets) > 0 && po.tickets[0] != t {
				ahead = po.tickets[0].done
			}
			o.mu.Unlock()
			if ahead == nil {
				break
			}
			select {
			case <-ahead:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// unsent is the part of p's outbox that no earlier writer published.
func (o *pubOrder) unsent(p *pstate) []outEntry {
	o.mu.Lock()
	var sent string
	if po := o.profs[orderKey(p)]; po != nil {
		sent = po.sent
	}
	o.mu.Unlock()
	i := 0
	for i < len(p.pending) && p.pending[i].field <= sent {
		i++
	}
	return p.pending[i:]
}

// markSent records that p's outbox is published up to its last entry.
func (o *pubOrder) markSent(ps []*pstate) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range ps {
		if n := len(p.pending); n > 0 {
			if po := o.profs[orderKey(p)]; po != nil && p.pending[n-1].field > po.sent {
				po.sent = p.pending[n-1].field
			}
		}
	}
}

// leave releases t on every profile of ps; a profile without tickets is
// forgotten (its sent mark with it: by then its writers cleared what they
// published).
func (o *pubOrder) leave(ps []*pstate, t *pubTicket) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range ps {
		po := o.profs[orderKey(p)]
		if po == nil {
			continue
		}
		if i := slices.Index(po.tickets, t); i >= 0 {
			po.tickets = slices.Delete(po.tickets, i, i+1)
		}
		if len(po.tickets) == 0 {
			delete(o.profs, orderKey(p))
		}
	}
	t.close()
}

// reset forgets every ticket (releasing their waiters): once a run of the
// role has ended, a batch the consumer gave up on keeps none.
func (o *pubOrder) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, po := range o.profs {
		for _, t := range po.tickets {
			t.close()
		}
	}
	o.profs = map[string]*profOrder{}
}
