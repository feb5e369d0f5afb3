package segmenter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter/rules"
)

// evalCtx is what one profile's evaluation needs besides its state.
type evalCtx struct {
	tenant string
	ix     *tenantIndex
	loc    *time.Location
	now    time.Time
}

// evaluate re-evaluates the candidate segments of a profile, and the
// segments that reference a segment whose membership changed, in dependency
// order. silent names segments whose entries are recorded but not published
// (backfill of a segment with emitOnBackfill false).
func (s *Service) evaluate(ctx context.Context, ec *evalCtx, p *pstate, cands []*compiled, cause string, silent string) error {
	if len(cands) == 0 {
		return nil
	}
	env := &rules.Env{
		Now:    ec.now,
		Loc:    ec.loc,
		Trait:  p.trait,
		Events: func(c *rules.EventCond) []int64 { return p.st.Conds[c.Key()] },
		Member: func(id string) bool {
			m, ok := p.lookup(id)
			return ok && m.In
		},
	}
	// A queue in dependency order (shallowest first: what a segment
	// references is final before it is evaluated), without duplicates
	// (cands may repeat a segment: it is collected from several indexes).
	byDepth := func(a, b *compiled) int {
		if a.order != b.order {
			return a.order - b.order
		}
		return strings.Compare(a.def.ID, b.def.ID)
	}
	slices.SortFunc(cands, byDepth)
	queue := slices.CompactFunc(cands, func(a, b *compiled) bool { return a.def.ID == b.def.ID })
	// The queue holds distinct segments until a dependent is queued; only
	// then is a set of the evaluated ones needed.
	evaluated := make([]string, 0, len(queue))
	var done map[string]bool
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if done != nil {
			if done[c.def.ID] {
				continue
			}
			done[c.def.ID] = true
		}
		evaluated = append(evaluated, c.def.ID)
		if err := s.seed(ctx, ec, p, c.conds); err != nil {
			return err
		}
		in, due := c.rule.Eval(env)
		var dueMs int64
		if !due.IsZero() {
			dueMs = due.UnixMilli()
			if due.Sub(time.UnixMilli(dueMs)) > 0 {
				dueMs++ // round up: never fire before the instant
			}
		}
		if cur, ok := p.lookup(c.def.ID); ok {
			if cur.In == in && cur.Due == dueMs && (cur.In || cur.Seq != 0 || cur.Due != 0) {
				continue // unchanged
			}
		} else if !in && dueMs == 0 {
			continue // not a member, nothing to remember
		}
		m := p.segs()[c.def.ID]
		if m == nil {
			m = &member{}
			p.segsChanged()
			if p.st.Segs == nil {
				p.st.Segs = map[string]*member{}
			}
			p.st.Segs[c.def.ID] = m
		}
		if m.Due != dueMs {
			m.Due = dueMs
			p.dirty = true
			p.segsChanged()
		}
		if m.In != in {
			p.segsChanged()
			m.In = in
			m.Seq++
			p.dirty = true
			p.markChanged(c.def.ID)
			if silent != c.def.ID {
				p.out = append(p.out, s.change(ec, p, c, in, m.Seq, cause))
			}
			s.metrics.transition(p.tenant, in, cause)
			if len(c.dependents) > 0 {
				if done == nil {
					done = make(map[string]bool, 2*len(evaluated)+len(queue)+len(c.dependents))
					for _, id := range evaluated {
						done[id] = true
					}
				}
				for _, d := range c.dependents {
					if !done[d.def.ID] {
						queue = append(queue, d)
					}
				}
				slices.SortFunc(queue, byDepth)
			}
		}
		if !m.In && m.Seq == 0 && m.Due == 0 {
			p.segsChanged()
			delete(p.st.Segs, c.def.ID)
		}
	}
	s.metrics.evaluations.WithLabelValues(p.tenant).Add(float64(len(evaluated)))
	return nil
}

func (s *Service) change(ec *evalCtx, p *pstate, c *compiled, in bool, seq int64, cause string) schemas.SegmentChange {
	typ := schemas.SegmentExited
	if in {
		typ = schemas.SegmentEntered
	}
	ids := p.st.Identities
	if ids == nil {
		ids = []schemas.Identity{}
	}
	return schemas.SegmentChange{
		Type:        typ,
		MessageID:   MessageID(p.tenant, c.def.ID, p.id, seq),
		Tenant:      p.tenant,
		SegmentID:   c.def.ID,
		SegmentName: c.def.Name,
		ProfileID:   p.id,
		UserID:      p.st.UserID,
		Identities:  ids,
		Timestamp:   ec.now.UTC(),
		Cause:       cause,
	}
}

// seed fills the event-condition state that a profile does not have yet
// from the identity store's timeline (once per profile and condition).
func (s *Service) seed(ctx context.Context, ec *evalCtx, p *pstate, conds []*rules.EventCond) error {
	var missing []*rules.EventCond
	for _, c := range conds {
		if _, ok := p.st.Conds[c.Key()]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if p.events == nil && s.cfg.UpdatesHoldAllHistory {
		p.events = &schemas.ProfileEvents{} // its events come as updates
	}
	if p.events == nil && s.deps.Profiles != nil {
		ev, err := s.deps.Profiles.ProfileEvents(ctx, p.tenant, p.id)
		if err != nil {
			return fmt.Errorf("segmenter: read events of %s: %w", p.id, err)
		}
		p.events = &ev
	}
	if p.st.Conds == nil {
		p.st.Conds = map[string][]int64{}
	}
	for _, c := range missing {
		ts := []int64{}
		if p.events != nil {
			ts = seedFrom(c, p.events, ec.now, ec.loc)
		}
		p.st.Conds[c.Key()] = ts
	}
	p.dirty = true
	return nil
}

// seedFrom builds a condition's timestamps from a timeline. Events older
// than the timeline but in the per-day counts (conditions without "where"
// only) are placed at noon UTC of their day.
func seedFrom(c *rules.EventCond, ev *schemas.ProfileEvents, now time.Time, loc *time.Location) []int64 {
	ts := []int64{}
	oldest := time.Time{}
	for _, e := range ev.Recent {
		if e.Name != c.Name {
			continue
		}
		if oldest.IsZero() || e.Timestamp.Before(oldest) {
			oldest = e.Timestamp
		}
		if c.Match(e.Properties, e.Timestamp, loc) {
			ts = c.Retain(ts, rules.Stamp(e.Timestamp, e.MessageID), now, loc)
		}
	}
	if len(c.Where) == 0 {
		days := ev.DailyCounts[c.Name]
		keys := make([]string, 0, len(days))
		for d := range days {
			keys = append(keys, d)
		}
		sort.Strings(keys)
		for _, d := range keys {
			day, err := time.Parse("2006-01-02", d)
			if err != nil {
				continue
			}
			if !oldest.IsZero() && !day.AddDate(0, 0, 1).Before(oldest.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)) {
				continue // the timeline covers this day
			}
			noon := day.Add(12 * time.Hour)
			for i := int64(0); i < days[d] && i < rules.MaxKeep; i++ {
				t := noon.Add(time.Duration(i) * time.Millisecond)
				if c.Match(nil, t, loc) {
					ts = c.Retain(ts, rules.Stamp(t, "daily"), now, loc)
				}
			}
		}
	}
	return ts
}

// applyUpdate applies one profile update (not a merge) to a profile state.
func (s *Service) applyUpdate(ctx context.Context, ec *evalCtx, p *pstate, u *update) error {
	if p.st.Gone != "" {
		return nil // a deleted or absorbed profile: updates for it are late
	}
	fresh := p.ver == 0 && len(p.segs()) == 0 && p.st.Traits == nil
	if u.Type == schemas.UserCreated && p.ver == 0 && p.events == nil {
		// The message created the profile: it has no history to seed
		// event conditions from (its own event comes with the
		// profile.updated record that follows), so seed skips the read.
		p.events = &schemas.ProfileEvents{}
	}
	// The state is written only when it changes (p.dirty): most updates
	// of a known profile (an event no condition counts, the same traits)
	// change nothing but the applied offset, which is then kept in memory
	// and written with the next change. Applying such an update again
	// after a crash changes nothing either.
	if u.UserID != "" && u.UserID != p.st.UserID {
		p.st.UserID = u.UserID
		p.dirty = true
	}
	if len(u.Identities) > 0 && !slices.Equal(u.Identities, p.st.Identities) {
		p.st.Identities = u.Identities
		p.dirty = true
	}
	cands := make([]*compiled, 0, 16)
	if u.Type == schemas.UserDeleted {
		s.exitAll(ec, p, schemas.CauseDelete)
		p.st = State{Gone: "deleted", Segs: p.st.Segs, Offsets: p.st.Offsets, OutSeq: p.st.OutSeq, UserID: p.st.UserID, Identities: p.st.Identities}
		p.setTraits(nil)
		p.dirty = true
		return nil
	}
	// Traits.
	if u.traitsRaw != nil || len(u.Changes) > 0 {
		var changed []string
		if u.Changes != nil && !fresh {
			for k := range u.Changes {
				changed = append(changed, k)
			}
		} else if names, ok := newTraitNames(p, u.traitsRaw); ok {
			// no stored traits: every trait of the update is new
			changed = names
		} else {
			old := p.traitMap()
			var now map[string]any
			if len(u.traitsRaw) > 0 {
				_ = json.Unmarshal(u.traitsRaw, &now)
			}
			for k, v := range now {
				if ov, ok := old[k]; !ok || !jsonEqual(ov, v) {
					changed = append(changed, k)
				}
			}
			for k := range old {
				if _, ok := now[k]; !ok {
					changed = append(changed, k)
				}
			}
		}
		if p.st.Traits == nil || !bytes.Equal(u.traitsRaw, p.st.Traits) {
			p.setTraits(u.traitsRaw)
			p.dirty = true
		}
		for _, k := range changed {
			cands = append(cands, ec.ix.byTrait[k]...)
		}
	}
	// The event.
	if e := u.Event; e != nil && e.Name != "" {
		conds := ec.ix.condsByEvent[e.Name]
		if err := s.seed(ctx, ec, p, conds); err != nil {
			return err
		}
		for _, c := range conds {
			if c.Match(u.eventProperties(), e.Timestamp, ec.loc) {
				// Retain may write into its argument's array: keep what it
				// returns, compare with a copy
				k := c.Key()
				old := slices.Clone(p.st.Conds[k])
				p.st.Conds[k] = c.Retain(p.st.Conds[k], rules.Stamp(e.Timestamp, e.MessageID), ec.now, ec.loc)
				if !slices.Equal(p.st.Conds[k], old) {
					p.dirty = true
				}
			}
		}
		cands = append(cands, ec.ix.byEvent[e.Name]...)
	}
	if fresh {
		cands = append(cands, ec.ix.vacuous...)
	}
	if u.Type == schemas.ProfileMerged {
		// The survivor: everything it or the absorbed profiles were in,
		// and every segment that reads an event condition that grew.
		for id := range p.segs() {
			if c, ok := ec.ix.segs[id]; ok {
				cands = append(cands, c)
			}
		}
		for _, c := range u.mergedSegs {
			if cc, ok := ec.ix.segs[c]; ok {
				cands = append(cands, cc)
			}
		}
		for _, name := range u.mergedEvents {
			cands = append(cands, ec.ix.byEvent[name]...)
		}
		cands = append(cands, ec.ix.vacuous...)
	}
	cause := schemas.CauseEvent
	if u.Type == schemas.ProfileMerged {
		cause = schemas.CauseMerge
	}
	return s.evaluate(ctx, ec, p, cands, cause, "")
}

// exitAll exits every membership (deletes, absorbed profiles).
func (s *Service) exitAll(ec *evalCtx, p *pstate, cause string) {
	p.segs()
	p.segsChanged()
	ids := make([]string, 0, len(p.st.Segs))
	for id := range p.st.Segs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := p.st.Segs[id]
		m.Due = 0
		if !m.In {
			continue
		}
		m.In = false
		m.Seq++
		p.markChanged(id)
		c, ok := ec.ix.segs[id]
		if !ok {
			c = &compiled{def: Segment{ID: id}}
		}
		p.out = append(p.out, s.change(ec, p, c, false, m.Seq, cause))
		s.metrics.transition(p.tenant, false, cause)
	}
	p.dirty = true
}

// absorb exits an absorbed profile's memberships and tombstones it; its
// event-condition state is kept for the survivor.
func (s *Service) absorb(ec *evalCtx, p *pstate) {
	if p.st.Gone != "" {
		return
	}
	s.exitAll(ec, p, schemas.CauseMerge)
	p.st.Gone = "merged"
	p.setTraits(nil)
	p.dirty = true
}

// fireTimers re-evaluates the segments whose deadline has come.
func (s *Service) fireTimers(ctx context.Context, ec *evalCtx, p *pstate) error {
	p.dirty = true // the claimed timer must be rewritten (or removed)
	p.segs()
	if p.st.Gone != "" {
		p.segsChanged()
		for _, m := range p.st.Segs {
			m.Due = 0
		}
		return nil
	}
	nowMs := ec.now.UnixMilli()
	var cands []*compiled
	for id, m := range p.st.Segs {
		if m.Due == 0 || m.Due > nowMs {
			continue
		}
		c, ok := ec.ix.segs[id]
		if !ok {
			m.Due = 0
			p.segsChanged()
			p.dirty = true
			continue
		}
		cands = append(cands, c)
	}
	// Prune event timestamps that can no longer count.
	for _, c := range cands {
		for _, ev := range c.conds {
			if ts, ok := p.st.Conds[ev.Key()]; ok {
				p.st.Conds[ev.Key()] = ev.Retain(ts, 0, ec.now, ec.loc)
			}
		}
	}
	p.dirty = true // the timer itself must be rewritten
	return s.evaluate(ctx, ec, p, cands, schemas.CauseTime, "")
}

// backfillProfile evaluates one segment for one profile read from the
// identity store.
func (s *Service) backfillProfile(ctx context.Context, ec *evalCtx, p *pstate, c *compiled, prof *schemas.Profile, cause string, silent bool) error {
	if p.st.Gone != "" {
		return nil
	}
	if p.st.Traits == nil && prof.Traits != nil {
		// (stored traits win: they are at least as new as the updates
		// applied, and a scanned page can be older than those)
		raw, err := json.Marshal(prof.Traits)
		if err != nil {
			return fmt.Errorf("segmenter: encode traits: %w", err)
		}
		p.setTraits(raw)
		p.dirty = true
	}
	if p.st.UserID == "" {
		p.st.UserID = prof.UserID
	}
	if len(p.st.Identities) == 0 {
		p.st.Identities = prof.Identities
	}
	sil := ""
	if silent {
		sil = c.def.ID
	}
	return s.evaluate(ctx, ec, p, []*compiled{c}, cause, sil)
}

// dropSegment removes a deleted segment's membership from a profile,
// publishing the exit.
func (s *Service) dropSegment(ec *evalCtx, p *pstate, seg Segment) {
	p.segs()
	p.segsChanged()
	m := p.st.Segs[seg.ID]
	p.markChanged(seg.ID)
	p.dirty = true
	if m == nil {
		return
	}
	if m.In {
		m.Seq++
		p.out = append(p.out, s.change(ec, p, &compiled{def: seg}, false, m.Seq, schemas.CauseDefinition))
		s.metrics.transition(p.tenant, false, schemas.CauseDefinition)
	}
	delete(p.st.Segs, seg.ID)
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	switch a.(type) {
	case string, float64, bool, nil:
		return a == b
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
