package segmenter

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
)

// heldStates keeps profile states in memory between batches and writes
// them to Redis only on Flush (Config.WriteBehind): a replay into a new
// generation, which no one else writes or reads before it is finished,
// then reads and writes each profile's state once instead of once per
// batch. Workers sharing it still take turns on a profile by compare-and-
// set, on the held version instead of the stored one.
type heldStates struct {
	mu  sync.Mutex
	m   map[stateKey]*heldState
	max int
	// epoch counts the times the states were written and forgotten
	// (beyond max): a state loaded before that is stale.
	epoch int64
}

type stateKey struct{ tenant, id string }

// heldState is one profile's latest state.
type heldState struct {
	ver    int64  // held version: +1 per commit, compare-and-set between workers
	stored int64  // the version in Redis (0 = none)
	blob   []byte // encoded State (never changed once held)
	traits string
	due    string          // next deadline, "" = none
	segs   map[string]bool // segments whose membership changed since the last write → member now
	dirty  bool
}

func newHeldStates(max int) *heldStates {
	return &heldStates{m: map[stateKey]*heldState{}, max: max}
}

// load fills the states it holds and returns the others (to be read from
// Redis).
func (h *heldStates) load(ps []*pstate) ([]*pstate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var rest []*pstate
	for _, p := range ps {
		e := h.m[stateKey{p.tenant, p.id}]
		if e == nil {
			rest = append(rest, p)
			p.epoch = h.epoch
			continue
		}
		if err := p.fill(e.ver, e.blob, e.traits); err != nil {
			return nil, err
		}
		p.epoch = h.epoch
	}
	return rest, nil
}

// commit takes the states of a batch: each one whose held version is still
// the one it was loaded with (else it is returned, to be loaded again and
// recomputed), as Redis's compare-and-set would.
func (h *heldStates) commit(ctx context.Context, s *Service, ps []*pstate, nowMs int64) ([]*pstate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var lost []*pstate
	for _, p := range ps {
		k := stateKey{p.tenant, p.id}
		e := h.m[k]
		switch {
		case p.epoch != h.epoch:
			lost = append(lost, p) // loaded before the states were written out
			continue
		case e == nil:
			// first held: p was read from Redis, at version p.ver
			e = &heldState{ver: p.ver, stored: p.ver}
			h.m[k] = e
		case e.ver != p.ver:
			lost = append(lost, p)
			continue
		}
		p.st.OutSeq += int64(len(p.out)) // numbered as if written (DiscardChanges)
		blob, due, segs := p.encodeForCommit()
		e.ver++
		e.blob, e.traits, e.due, e.dirty = blob, string(p.st.Traits), due, true
		for _, seg := range segs {
			if e.segs == nil {
				e.segs = map[string]bool{}
			}
			e.segs[seg] = p.isMember(seg)
		}
		p.ver = e.ver
	}
	if len(h.m) > h.max {
		if err := h.writeLocked(ctx, s, nowMs); err != nil {
			return nil, err
		}
		h.m = map[stateKey]*heldState{}
		h.epoch++
	}
	return lost, nil
}

// writeLocked writes every dirty state with the commit script, each one
// only if Redis still holds the version it was read at.
func (h *heldStates) writeLocked(ctx context.Context, s *Service, nowMs int64) error {
	var dirty []*pstate // (only tenant and id: the arguments come from the held state)
	for k, e := range h.m {
		if e.dirty {
			dirty = append(dirty, &pstate{tenant: k.tenant, id: k.id})
		}
	}
	if len(dirty) == 0 {
		return nil
	}
	head := func(tenant string) []any {
		return []any{keysFor(s.cfg.Namespace, tenant).prefix, nowMs}
	}
	calls, _ := tenantCalls(dirty, head, func(p *pstate, args []any) ([]any, error) {
		e := h.m[stateKey{p.tenant, p.id}]
		args = append(args, p.id, strconv.FormatInt(e.stored, 10), e.blob, e.due, e.traits, 0, len(e.segs))
		for _, seg := range slices.Sorted(maps.Keys(e.segs)) {
			args = append(args, seg, memberSign(e.segs[seg]))
		}
		return args, nil
	})
	cmds, err := s.runCalls(ctx, commitScript, calls)
	if err != nil {
		return fmt.Errorf("segmenter: write held states: %w", err)
	}
	for i, c := range calls {
		vs, err := cmds[i].Int64Slice()
		if err != nil || len(vs) != len(c.ps) {
			return fmt.Errorf("segmenter: write held states: %d replies for %d profiles (%v)", len(vs), len(c.ps), err)
		}
		for k, v := range vs {
			if v < 0 {
				return fmt.Errorf("%w: %s/%s was written by another segmenter (WriteBehind needs a namespace of its own)", ErrConflict, c.ps[k].tenant, c.ps[k].id)
			}
			e := h.m[stateKey{c.ps[k].tenant, c.ps[k].id}]
			e.stored, e.segs, e.dirty = v, nil, false
		}
	}
	return nil
}

// Flush writes the states that WriteBehind holds to Redis. A replay calls it
// once its segmenter has applied every update; without WriteBehind it does
// nothing.
func (s *Service) Flush(ctx context.Context) error {
	if s.held == nil {
		return nil
	}
	s.held.mu.Lock()
	defer s.held.mu.Unlock()
	return s.held.writeLocked(ctx, s, s.now().UnixMilli())
}
