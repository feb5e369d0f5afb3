package segmenter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/user360/user360/schemas"
)

// work is one profile's share of a batch: a function that changes its
// state. It must be deterministic given the state, because it is run again
// on a fresh read when another writer changed the profile in between.
type work struct {
	p     *pstate
	apply func(ctx context.Context, ec *evalCtx, p *pstate) error
}

const maxConflictRetries = 20

// process runs a batch: read every state in one pipeline, apply, write with
// compare-and-set in one pipeline (re-running the losers of a race), then
// publish the outboxes and clear them. A crash at any point leaves either
// the old state (the work runs again on redelivery) or the new state with
// its outbox, which the next writer or the sweeper publishes; messageIds are
// stored in the outbox, so a republished change keeps its id.
func (s *Service) process(ctx context.Context, ws []*work) error {
	if len(ws) == 0 {
		return nil
	}
	ps := make([]*pstate, len(ws))
	for i, w := range ws {
		ps[i] = w.p
	}
	if err := s.loadStates(ctx, ps); err != nil {
		return err
	}
	byP := make(map[*pstate]*work, len(ws))
	for _, w := range ws {
		byP[w.p] = w
	}
	todo := ps
	for attempt := 0; ; attempt++ {
		now := s.now()
		for _, p := range todo {
			ec, ok := s.evalCtx(p.tenant, now)
			if !ok {
				continue
			}
			if err := byP[p].apply(ctx, ec, p); err != nil {
				return err
			}
		}
		lost, err := s.commitStates(ctx, todo, now.UnixMilli())
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
		todo = lost
	}
	return s.publish(ctx, ps)
}

// publish emits the profiles' outboxes in order and clears them.
func (s *Service) publish(ctx context.Context, ps []*pstate) error {
	var changes []schemas.SegmentChange
	for _, p := range ps {
		for _, e := range p.pending {
			if e.change != nil {
				changes = append(changes, *e.change)
				continue
			}
			var c schemas.SegmentChange
			if err := json.Unmarshal([]byte(e.value), &c); err != nil {
				s.deps.Log.Error().Err(err).Str("tenant", p.tenant).Msg("dropping undecodable outbox entry")
				continue
			}
			changes = append(changes, c)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if err := s.emitter.Emit(ctx, changes); err != nil {
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
	return &evalCtx{ix: s.reg.index(tenant), loc: t.Location(), now: now}, true
}
