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

// process runs a batch to the end: stageWork, then its finish.
func (s *Service) process(ctx context.Context, ws []*work) error {
	sw, err := s.stageWork(ctx, ws)
	if err != nil {
		return err
	}
	return sw.run(ctx)
}

// stagedWork is a batch whose states are written and whose outboxes wait
// to be published (finish).
type stagedWork struct {
	s      *Service
	ps     []*pstate
	ticket *pubTicket
}

// stageWork runs a batch up to the write: take a publishing ticket on its
// profiles (pubOrder), read every state in one pipeline, run the steps in
// their order, write with compare-and-set in one pipeline (re-running, in
// order, the steps of the profiles that lost a race). Several steps may
// share a profile state (the same *pstate). finish then publishes the
// outboxes and clears them. A crash at any point leaves either the old
// state (the steps run again on redelivery) or the new state with its
// outbox, which the next writer or the sweeper publishes; messageIds are
// stored in the outbox, so a republished change keeps its id.
func (s *Service) stageWork(ctx context.Context, ws []*work) (sw *stagedWork, err error) {
	if len(ws) == 0 {
		return &stagedWork{s: s}, nil
	}
	ps := statesOf(ws)
	ticket := s.order.enter(ps)
	defer func() {
		if err != nil {
			s.order.leave(ps, ticket)
		}
	}()
	if err := s.loadStates(ctx, ps); err != nil {
		return nil, err
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
				return nil, err
			}
		}
		lost, err := s.commitStates(ctx, todoPs, now.UnixMilli())
		if err != nil {
			return nil, err
		}
		if len(lost) == 0 {
			break
		}
		s.metrics.conflicts.Add(float64(len(lost)))
		if attempt >= maxConflictRetries {
			return nil, fmt.Errorf("%w: %d profiles", ErrConflict, len(lost))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
		if err := s.loadStates(ctx, lost); err != nil {
			return nil, err
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
	return &stagedWork{s: s, ps: ps, ticket: ticket}, nil
}

// finish publishes the batch's outboxes once the writers before it on
// the same profiles have published theirs, then clears them and gives up
// its tickets. After an error it may be called again; it gives the
// tickets up when ctx has ended (the batch is abandoned: its outboxes
// stay for the next writer or the sweeper).
func (sw *stagedWork) finish(ctx context.Context) error {
	if sw.ticket == nil {
		return nil
	}
	s := sw.s
	err := s.order.wait(ctx, sw.ps, sw.ticket)
	if err == nil {
		err = s.publish(ctx, sw.ps)
	}
	if err != nil && ctx.Err() == nil {
		return err // the caller retries, still in line
	}
	sw.release()
	return err
}

// run is finish for a caller that does not call it again after an
// error (it retries the whole batch, with new tickets).
func (sw *stagedWork) run(ctx context.Context) error {
	err := sw.finish(ctx)
	if err != nil {
		sw.release()
	}
	return err
}

// release gives up the batch's tickets (once).
func (sw *stagedWork) release() {
	if sw.ticket != nil {
		sw.s.order.leave(sw.ps, sw.ticket)
		sw.ticket = nil
	}
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

// publish emits the profiles' outboxes in order, but for the entries an
// earlier writer published (pubOrder), and clears them.
func (s *Service) publish(ctx context.Context, ps []*pstate) error {
	var changes []schemas.SegmentChange
	var values [][]byte // each change's JSON, as its outbox entry holds it
	for _, p := range ps {
		for _, e := range s.order.unsent(p) {
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
		return s.clearOutboxes(ctx, ps) // (what earlier writers published)
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
	s.order.markSent(ps)
	return s.clearOutboxes(ctx, ps)
}

func (s *Service) evalCtx(tenant string, now time.Time) (*evalCtx, bool) {
	t, ok := s.deps.Tenants.Get(tenant)
	if !ok {
		return nil, false
	}
	return &evalCtx{tenant: tenant, ix: s.reg.index(tenant), loc: t.Location(), now: now}, true
}
