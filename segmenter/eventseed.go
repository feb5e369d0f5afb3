package segmenter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter/rules"
)

// Rebuilding a segment's event-condition state from exact event stamps
// (user360 replay --segment): the caller reads the events log, matches
// the events against the segment's conditions and hands the stamps per
// profile to SeedEventConditions, which merges them into the stored state
// and re-evaluates the segment through the same compare-and-set path as
// live updates and backfills.

// ErrNoEventConditions is returned for a segment whose rule has no event
// condition: there is no event history to rebuild.
var ErrNoEventConditions = errors.New("segmenter: segment has no event conditions")

// SegmentEvents is a segment's definition and its event conditions, as
// the segmenter compiled them.
type SegmentEvents struct {
	Segment Segment
	// Conds are the rule's event conditions (distinct by Key).
	Conds []*rules.EventCond
	// Loc is the tenant's time zone (condition windows and dates).
	Loc *time.Location
}

// Names lists the distinct event names the conditions read, in order.
func (se SegmentEvents) Names() []string {
	var out []string
	for _, c := range se.Conds {
		if !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// SegmentEventConditions returns a segment's definition and event
// conditions. It fails with ErrSegmentNotFound for a segment the
// definitions do not hold, and ErrNoEventConditions for a rule without
// event conditions.
func (s *Service) SegmentEventConditions(tenant, segmentID string) (SegmentEvents, error) {
	t, ok := s.deps.Tenants.Get(tenant)
	if !ok {
		return SegmentEvents{}, fmt.Errorf("%w: unknown tenant %q", ErrSegmentNotFound, tenant)
	}
	c, ok := s.reg.get(tenant, segmentID)
	if !ok {
		return SegmentEvents{}, fmt.Errorf("%w: %q in tenant %q", ErrSegmentNotFound, segmentID, tenant)
	}
	se := SegmentEvents{Segment: c.def, Loc: t.Location()}
	seen := map[string]bool{}
	for _, ec := range c.conds {
		if !seen[ec.Key()] {
			seen[ec.Key()] = true
			se.Conds = append(se.Conds, ec)
		}
	}
	if len(se.Conds) == 0 {
		return SegmentEvents{}, fmt.Errorf("%w: %q", ErrNoEventConditions, segmentID)
	}
	return se, nil
}

// EventSeed is what a rebuild knows of one profile: its stamps per event
// condition and the profile as the identity store holds it.
type EventSeed struct {
	// Profile is the live profile (its traits, user id and identities are
	// taken when the segmenter has not seen the profile yet, as a backfill
	// does); Profile.ID names the state to change.
	Profile schemas.Profile
	// Stamps maps a condition key (rules.EventCond.Key) to the stamps
	// (rules.Stamp) of the profile's matching events, in any order.
	Stamps map[string][]int64
}

// SeedOptions bound what the stamps replace.
type SeedOptions struct {
	// Since and Until bound the days the stamps cover (zero: unbounded):
	// the day-count approximations a condition was seeded with from the
	// identity store's per-day counters (events at noon UTC) on days from
	// Since's UTC day to Until's are dropped, the stamps holding the
	// exact events of those days. With Since set, a condition the profile
	// has no state for is first seeded from the identity store as usual
	// (the stamps do not cover the older history).
	Since, Until time.Time
}

// SeedResult counts what SeedEventConditions did.
type SeedResult struct {
	// Profiles is the number of seeds given; Skipped those of deleted or
	// merged-away profiles (their state is a tombstone).
	Profiles, Skipped int
	// Written is the number of states changed (0 when the stamps were
	// already there and the membership is unchanged).
	Written int
	// Entered and Exited count the segment's transitions; Published the
	// changes handed to the Emitter (none for a segment with
	// emitOnBackfill false).
	Entered, Exited, Published int
}

// SeedEventConditions merges exact event stamps into the state of a
// segment's event conditions for the given profiles and re-evaluates the
// segment (and the other segments that share a changed condition) for
// them, publishing entries and exits with cause "backfill" (nothing for a
// segment whose emitOnBackfill is false, as a backfill).
//
// Per condition the new state is the stored stamps, minus the day-count
// approximations of the days SeedOptions cover, plus the given stamps,
// retained as the condition keeps them. Stamps are a set, so running it
// again with the same stamps changes nothing and publishes nothing. It
// writes through the segmenter's compare-and-set script (one pipeline to
// read the states, one to write them), so it is safe next to live
// segmenters; the caller should hold the segment's lease (LeaseSegment) so
// that the segment's own backfill job does not run at the same time.
func (s *Service) SeedEventConditions(ctx context.Context, tenant, segmentID string, seeds []EventSeed, o SeedOptions) (SeedResult, error) {
	res := SeedResult{Profiles: len(seeds)}
	c0, ok := s.reg.get(tenant, segmentID)
	if !ok {
		return res, fmt.Errorf("%w: %q in tenant %q", ErrSegmentNotFound, segmentID, tenant)
	}
	rev := c0.def.Revision
	ws := make([]*work, 0, len(seeds))
	for i := range seeds {
		seed := &seeds[i]
		ws = append(ws, &work{p: &pstate{tenant: tenant, id: seed.Profile.ID}, apply: func(ctx context.Context, ec *evalCtx, p *pstate) error {
			c, ok := ec.ix.segs[segmentID]
			if !ok || c.def.Revision != rev || p.st.Gone != "" {
				return nil // the segment changed (its job re-evaluates), or a tombstone
			}
			return s.seedProfile(ctx, ec, p, c, seed, o)
		}})
	}
	if err := s.process(ctx, ws); err != nil {
		return res, err
	}
	for _, w := range ws {
		p := w.p
		if p.st.Gone != "" {
			res.Skipped++
			continue
		}
		if p.dirty {
			res.Written++
		}
		if p.changed[segmentID] {
			if m, _ := p.lookup(segmentID); m.In {
				res.Entered++
			} else {
				res.Exited++
			}
		}
		res.Published += len(p.out)
	}
	return res, nil
}

// seedProfile rebuilds one profile's condition state and re-evaluates.
func (s *Service) seedProfile(ctx context.Context, ec *evalCtx, p *pstate, c *compiled, seed *EventSeed, o SeedOptions) error {
	if !o.Since.IsZero() {
		if err := s.seed(ctx, ec, p, c.conds); err != nil {
			return err
		}
	}
	if p.st.Conds == nil {
		p.st.Conds = map[string][]int64{}
	}
	var changed []string
	for _, cond := range c.conds {
		key := cond.Key()
		old, had := p.st.Conds[key]
		if slices.Contains(changed, key) {
			continue
		}
		merged := mergeStamps(cond, old, seed.Stamps[key], o, ec.now, ec.loc)
		if !had || !slices.Equal(old, merged) {
			p.st.Conds[key] = merged
			p.dirty = true
			changed = append(changed, key)
		}
	}
	silent := !c.def.EmitOnBackfill
	if err := s.backfillProfile(ctx, ec, p, c, &seed.Profile, schemas.CauseBackfill, silent); err != nil {
		return err
	}
	// Segments that share a changed condition read the same stamps; each
	// honours its own emitOnBackfill.
	done := map[string]bool{c.def.ID: true}
	for _, key := range changed {
		for _, sc := range ec.ix.byEvent[ec.ix.condsByKey[key].Name] {
			if done[sc.def.ID] || !slices.ContainsFunc(sc.conds, func(x *rules.EventCond) bool { return x.Key() == key }) {
				continue
			}
			done[sc.def.ID] = true
			sil := ""
			if !sc.def.EmitOnBackfill {
				sil = sc.def.ID
			}
			if err := s.evaluate(ctx, ec, p, []*compiled{sc}, schemas.CauseBackfill, sil); err != nil {
				return err
			}
		}
	}
	return nil
}

// dailyLow is the hash part of the stamps seedFrom gives events it only
// knows from the per-day counters.
var dailyLow = rules.Stamp(time.UnixMilli(0), "daily") & 1023

// isDailySeed says a stamp is a day-count approximation (seedFrom: noon
// UTC of its day plus i ms, i < rules.MaxKeep); day is its UTC day.
func isDailySeed(stamp int64) (day time.Time, ok bool) {
	if stamp&1023 != dailyLow {
		return time.Time{}, false
	}
	t := time.UnixMilli(rules.StampMillis(stamp)).UTC()
	day = t.Truncate(24 * time.Hour)
	off := t.Sub(day)
	if off < 12*time.Hour || off >= 12*time.Hour+rules.MaxKeep*time.Millisecond {
		return time.Time{}, false
	}
	return day, true
}

// mergeStamps is a condition's rebuilt state: old minus the approximations
// of the covered days, plus add, as the condition retains them.
func mergeStamps(c *rules.EventCond, old, add []int64, o SeedOptions, now time.Time, loc *time.Location) []int64 {
	var lo, hi time.Time
	if !o.Since.IsZero() {
		lo = o.Since.UTC().Truncate(24 * time.Hour)
	}
	if !o.Until.IsZero() {
		hi = o.Until.UTC().Truncate(24 * time.Hour)
	}
	out := make([]int64, 0, len(old)+len(add))
	for _, st := range old {
		if day, ok := isDailySeed(st); ok && (lo.IsZero() || !day.Before(lo)) && (hi.IsZero() || !day.After(hi)) {
			continue
		}
		out = append(out, st)
	}
	out = append(out, add...)
	slices.Sort(out)
	out = slices.Compact(out)
	return c.Retain(out, 0, now, loc)
}

// LeaseSegment takes or renews the lease of a segment's jobs for this
// Service (the one its backfill and deletion jobs take): false when
// another instance holds it. Release it with ReleaseSegment.
func (s *Service) LeaseSegment(ctx context.Context, tenant, segmentID string) (bool, error) {
	return s.lease(ctx, keysFor(s.cfg.Namespace, tenant), segmentID)
}

// ReleaseSegment releases a lease taken by LeaseSegment (no-op when this
// Service does not hold it).
func (s *Service) ReleaseSegment(ctx context.Context, tenant, segmentID string) error {
	if err := evalScript(ctx, s.rdb, releaseScript, []string{keysFor(s.cfg.Namespace, tenant).lease(segmentID)}, s.jobs.token).Err(); err != nil {
		return fmt.Errorf("segmenter: release lease: %w", err)
	}
	return nil
}

// NewKafkaEmitter returns the Emitter the segmenter uses by default: it
// produces changes to topic on cl (key tenant/profileId, the segmenter's
// headers) and returns once the broker acknowledged them.
func NewKafkaEmitter(cl *kgo.Client, topic string) Emitter {
	return &kafkaEmitter{cl: cl, topic: topic}
}
