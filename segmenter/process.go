package segmenter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/user360/user360/schemas"
)

// work is one step of a batch on one profile: a function that changes its
// state. It must be deterministic given the state (and the states of the
// batch's steps before it), because it is run again on a fresh read when
// another writer changed the profile in between.
type work struct {
	p     *pstate
	apply func(ctx context.Context, ec *evalCtx, p *pstate) error
}

const maxConflictRetries = 20

// process runs a batch: read every state in one pipeline, run the steps in
// their order, write with compare-and-set in one pipeline (re-running, in
// order, the steps of the profiles that lost a race), then publish the
// outboxes and clear them. Several steps may share a profile state (the
// same *pstate). A crash at any point leaves either the old state (the
// steps run again on redelivery) or the new state with its outbox, which
// the next writer or the sweeper publishes; messageIds are stored in the
// outbox, so a republished change keeps its id.
func (s *Service) process(ctx context.Context, ws []*work) error {
	if len(ws) == 0 {
		return nil
	}
	ps := statesOf(ws)
	if err := s.loadStates(ctx, ps); err != nil {
		return err
	}
	todo, todoPs := ws, ps
	for attempt := 0; ; attempt++ {
		now := s.now()
		var ec *evalCtx
		for _, w := range todo {
			if ec == nil || ec.tenant != w.p.tenant {
				var ok bool
				if ec, ok = s.evalCtx(w.p.tenant, now); !ok {
					ec = nil
					continue
				}
			}
			if err := w.apply(ctx, ec, w.p); err != nil {
				return err
			}
		}
		lost, err := s.commitStates(ctx, todoPs, now.UnixMilli())
		if err != nil {
			return err
		}
		if len(lost) == 0 {
			break
		}
		s.metrics.conflicts.Add(float64(len(lost)))
		if attempt >= maxConflictRetries {
			return fmt.Errorf("%w: %d profiles", ErrConflict, len(lost))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
		if err := s.loadStates(ctx, lost); err != nil {
			return err
		}
		again := make(map[*pstate]bool, len(lost))
		for _, p := range lost {
			again[p] = true
		}
		var next []*work
		for _, w := range ws {
			if again[w.p] {
				next = append(next, w)
			}
		}
		todo, todoPs = next, lost
	}
	return s.publish(ctx, ps)
}

// statesOf lists the distinct profile states of ws in their first order.
func statesOf(ws []*work) []*pstate {
	seen := make(map[*pstate]bool, len(ws))
	ps := make([]*pstate, 0, len(ws))
	for _, w := range ws {
		if !seen[w.p] {
			seen[w.p] = true
			ps = append(ps, w.p)
		}
	}
	return ps
}

// publish emits the profiles' outboxes in order and clears them.
func (s *Service) publish(ctx context.Context, ps []*pstate) error {
	var changes []schemas.SegmentChange
	var values [][]byte // each change's JSON, as its outbox entry holds it
	for _, p := range ps {
		for _, e := range p.pending {
			if e.change != nil {
				changes = append(changes, *e.change)
				values = append(values, []byte(e.value))
				continue
			}
			var c schemas.SegmentChange
			if err := json.Unmarshal([]byte(e.value), &c); err != nil {
				s.deps.Log.Error().Err(err).Str("tenant", p.tenant).Msg("dropping undecodable outbox entry")
				continue
			}
			changes = append(changes, c)
			values = append(values, []byte(e.value))
		}
	}
	if len(changes) == 0 {
		return nil
	}
	var err error
	if ee, ok := s.emitter.(encodedEmitter); ok {
		err = ee.emitEncoded(ctx, changes, values)
	} else {
		err = s.emitter.Emit(ctx, changes)
	}
	if err != nil {
		return err
	}
	s.metrics.published.Add(float64(len(changes)))
	return s.clearOutboxes(ctx, ps)
}

func (s *Service) evalCtx(tenant string, now time.Time) (*evalCtx, bool) {
	t, ok := s.deps.Tenants.Get(tenant)
	if !ok {
		return nil, false
	}
	return &evalCtx{tenant: tenant, ix: s.reg.index(tenant), loc: t.Location(), now: now}, true
}
