package segmenter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter/rules"
)

// update is a decoded profile update with its traits kept raw for storage.
type update struct {
	schemas.ProfileUpdate
	traitsRaw json.RawMessage
	// eventProps: the event's properties as the record holds them, decoded
	// into Event.Properties only when an event condition reads them
	// (eventProperties)
	eventProps   json.RawMessage
	partition    int32
	offset       int64
	mergedSegs   []string
	mergedEvents []string
}

// updateWire reads only what the segmenter uses: trait changes by name
// (their values are not needed), traits raw.
type updateWire struct {
	Type       string                     `json:"type"`
	MessageID  string                     `json:"messageId"`
	Tenant     string                     `json:"tenant"`
	ProfileID  string                     `json:"profileId"`
	UserID     string                     `json:"userId,omitempty"`
	Identities []schemas.Identity         `json:"identities"`
	Event      *schemas.EventSummary      `json:"event,omitempty"`
	Changes    map[string]json.RawMessage `json:"changes,omitempty"`
	Traits     json.RawMessage            `json:"traits,omitempty"`
	Merge      *schemas.Merge             `json:"merge,omitempty"`
	// eventProps: the fast decoder leaves the event's properties raw
	eventProps json.RawMessage
}

// decodeUpdate reads one record of the profile-updates topic: the common
// shape (the exact member names identity writes) member by member, big
// traits kept raw without a reflective decode; anything else through
// encoding/json. Both give the same result (FuzzDecodeUpdate).
func decodeUpdate(value []byte) (*update, error) {
	if w, ok := decodeUpdateFast(value); ok {
		return w.update()
	}
	var w updateWire
	if err := json.Unmarshal(value, &w); err != nil {
		return nil, fmt.Errorf("segmenter: decode profile update: %w", err)
	}
	return w.update()
}

// update checks the wire form and builds the update.
func (w *updateWire) update() (*update, error) {
	u := &update{ProfileUpdate: schemas.ProfileUpdate{
		Type: w.Type, MessageID: w.MessageID, Tenant: w.Tenant, ProfileID: w.ProfileID, UserID: w.UserID,
		Identities: w.Identities, Event: w.Event, Merge: w.Merge,
	}, eventProps: w.eventProps}
	if w.Changes != nil {
		u.Changes = make(map[string]schemas.TraitChange, len(w.Changes))
		for k := range w.Changes {
			u.Changes[k] = schemas.TraitChange{}
		}
	}
	if len(w.Traits) > 0 && string(w.Traits) != "null" {
		// Parsed only when a rule needs them (most updates touch no
		// segment that reads traits).
		if w.Traits[0] != '{' {
			return nil, fmt.Errorf("segmenter: profile update traits are not an object")
		}
		u.traitsRaw = w.Traits
	}
	if u.Tenant == "" || u.ProfileID == "" {
		return nil, fmt.Errorf("segmenter: profile update without tenant or profileId")
	}
	return u, nil
}

// Handle applies a batch of profile-updates records and publishes its
// changes (Stage, then its finish). Records of one profile are applied in
// order, and a merge after what precedes it in the batch. It returns
// after the batch's changes are acknowledged by the Emitter; on an error
// the batch must be retried (it is idempotent).
func (s *Service) Handle(ctx context.Context, records []*kgo.Record) error {
	sw, err := s.stageRecords(ctx, records)
	if err != nil {
		return err
	}
	return sw.run(ctx)
}

// Stage applies a batch of profile-updates records up to the write of
// its states and outboxes, and returns the finish that publishes the
// changes (the kafka.StagedHandler of the role; Run consumes with it, so
// the next batch is applied while this one publishes). Per profile,
// changes are published in the order they were written (pubOrder).
func (s *Service) Stage(ctx context.Context, records []*kgo.Record) (finish func(context.Context) error, err error) {
	sw, err := s.stageRecords(ctx, records)
	if err != nil {
		return nil, err
	}
	return sw.finish, nil
}

// stageRecords decodes records and stages them (stageUpdates).
func (s *Service) stageRecords(ctx context.Context, records []*kgo.Record) (*stagedWork, error) {
	ups := make([]*update, 0, len(records))
	for _, r := range records {
		u, err := decodeUpdate(r.Value)
		if err != nil {
			s.metrics.updates.WithLabelValues("", "invalid").Inc()
			s.deps.Log.Warn().Err(err).Int32("partition", r.Partition).Int64("offset", r.Offset).Msg("skipping undecodable profile update")
			continue
		}
		u.partition, u.offset = r.Partition, r.Offset
		ups = append(ups, u)
	}
	return s.stageUpdates(ctx, ups)
}

// handleUpdates applies decoded updates (HandleInputs) as one batch, to
// the end (stageUpdates, then its finish).
func (s *Service) handleUpdates(ctx context.Context, ups []*update) error {
	sw, err := s.stageUpdates(ctx, ups)
	if err != nil {
		return err
	}
	return sw.run(ctx)
}

// stageUpdates applies decoded updates as one batch: one step per update,
// in their order, on states read once for the whole batch and written
// together (stageWork).
func (s *Service) stageUpdates(ctx context.Context, ups []*update) (*stagedWork, error) {
	b := updateBatch{states: map[string]*pstate{}, prev: map[*pstate]*update{}}
	var unkept []stateKey
	for _, u := range ups {
		if _, ok := s.deps.Tenants.Get(u.Tenant); !ok {
			s.metrics.updates.WithLabelValues("", "unknown_tenant").Inc()
			continue
		}
		if len(s.reg.index(u.Tenant).segs) == 0 {
			// No segment can change; a segment created later is backfilled
			// from the identity store. A state kept from earlier segments
			// must not keep traits this update changes (see forgetTraits).
			s.metrics.updates.WithLabelValues(u.Tenant, "no_segments").Inc()
			unkept = append(unkept, stateKey{u.Tenant, u.ProfileID})
			continue
		}
		s.metrics.updates.WithLabelValues(u.Tenant, "applied").Inc()
		if u.Type == schemas.ProfileMerged && u.Merge != nil && len(u.Merge.Absorbed) > 0 {
			s.addMerge(&b, u)
			continue
		}
		p, first := b.stateOf(u.Tenant, u.ProfileID)
		if first && u.Type == schemas.UserCreated {
			// a profile the identity stage just created has no state
			// yet: not read (if it has one, on a redelivery, the commit's
			// compare-and-set fails and it is read then)
			p.unread = true
		}
		prev := b.prev[p]
		b.prev[p] = u
		b.steps = append(b.steps, &work{p: p, apply: func(ctx context.Context, ec *evalCtx, p *pstate) error {
			if prev != nil && redundant(prev, u) {
				s.recordOffset(p, u)
				return nil
			}
			return s.applyOnce(ctx, ec, p, u)
		}})
	}
	if err := s.forgetTraits(ctx, unkept); err != nil {
		return nil, err
	}
	return s.stageWork(ctx, b.steps)
}

// updateBatch collects a batch's steps and one state per profile.
type updateBatch struct {
	steps  []*work
	states map[string]*pstate  // tenant/profileId → state
	prev   map[*pstate]*update // the profile's previous update step
}

func (b *updateBatch) state(tenant, id string) *pstate {
	p, _ := b.stateOf(tenant, id)
	return p
}

// stateOf is state, and whether this is the batch's first step on it.
func (b *updateBatch) stateOf(tenant, id string) (*pstate, bool) {
	key := tenant + "/" + id
	if p := b.states[key]; p != nil {
		return p, false
	}
	p := &pstate{tenant: tenant, id: id}
	b.states[key] = p
	return p, true
}

// eventProperties decodes the event's properties the first time they are
// read (the fast decoder checked that they decode).
func (u *update) eventProperties() map[string]any {
	if u.Event.Properties == nil && len(u.eventProps) > 0 {
		_ = json.Unmarshal(u.eventProps, &u.Event.Properties)
		u.eventProps = nil
	}
	return u.Event.Properties
}

// redundant says whether u repeats prev: the identity stage follows a
// profile.updated with a user.updated carrying the same trait changes.
func redundant(prev, u *update) bool {
	return u.Type == schemas.UserUpdated && prev.Type == schemas.ProfileUpdated && u.Event == nil &&
		bytes.Equal(prev.traitsRaw, u.traitsRaw) && len(prev.Changes) == len(u.Changes)
}

// recordOffset marks an update as applied without applying it.
func (s *Service) recordOffset(p *pstate, u *update) {
	if p.st.Offsets == nil {
		p.st.Offsets = map[string]int64{}
	}
	if u.offset > p.st.Offsets[partitionKey(u.partition)] {
		p.st.Offsets[partitionKey(u.partition)] = u.offset // written with the state's next change
	}
}

// applyOnce applies an update unless the state already holds it (a
// redelivery), and records its offset.
func (s *Service) applyOnce(ctx context.Context, ec *evalCtx, p *pstate, u *update) error {
	pk := partitionKey(u.partition)
	if last, ok := p.st.Offsets[pk]; ok && u.offset <= last {
		s.metrics.updates.WithLabelValues(u.Tenant, "duplicate").Inc()
		return nil
	}
	if err := s.applyUpdate(ctx, ec, p, u); err != nil {
		return err
	}
	if p.st.Offsets == nil {
		p.st.Offsets = map[string]int64{}
	}
	// Recorded, not a reason to write: an update that changed nothing
	// changes nothing when applied again (the state is written with its
	// offsets when something does change).
	p.st.Offsets[pk] = u.offset
	return nil
}

// addMerge adds a merge's steps: the absorbed profiles exit their
// memberships (cause merge), then the survivor takes their event-condition
// state and is re-evaluated. The survivor's step reads the absorbed states
// as the steps before it left them.
func (s *Service) addMerge(b *updateBatch, u *update) {
	var absorbed []*pstate
	for _, id := range u.Merge.Absorbed {
		if id == u.ProfileID {
			continue
		}
		p := b.state(u.Tenant, id)
		delete(b.prev, p)
		absorbed = append(absorbed, p)
		b.steps = append(b.steps, &work{p: p, apply: func(_ context.Context, ec *evalCtx, p *pstate) error {
			s.absorb(ec, p)
			return nil
		}})
	}
	survivor := b.state(u.Tenant, u.ProfileID)
	delete(b.prev, survivor)
	b.steps = append(b.steps, &work{p: survivor, apply: func(ctx context.Context, ec *evalCtx, p *pstate) error {
		if p.st.Gone != "" {
			return nil
		}
		pk := partitionKey(u.partition)
		if last, ok := p.st.Offsets[pk]; ok && u.offset <= last {
			return nil
		}
		return s.applyMerge(ctx, ec, p, u, absorbed)
	}})
}

// applyMerge moves the absorbed profiles' event-condition state to the
// survivor p and applies the merge update to it.
func (s *Service) applyMerge(ctx context.Context, ec *evalCtx, p *pstate, u *update, absorbed []*pstate) error {
	conds := map[string][]int64{}
	segs := map[string]bool{}
	for _, a := range absorbed {
		for k, ts := range a.st.Conds {
			conds[k] = append(conds[k], ts...)
		}
		for id := range a.segs() {
			segs[id] = true
		}
	}
	u.mergedSegs = u.mergedSegs[:0]
	for id := range segs {
		u.mergedSegs = append(u.mergedSegs, id)
	}
	sort.Strings(u.mergedSegs)
	names := map[string]bool{}
	for k, ts := range conds {
		c := ec.ix.condsByKey[k]
		if c == nil {
			continue
		}
		if _, ok := p.st.Conds[k]; !ok {
			if err := s.seed(ctx, ec, p, []*rules.EventCond{c}); err != nil {
				return err
			}
		}
		cur := p.st.Conds[k]
		for _, t := range ts {
			cur = c.Retain(cur, t, ec.now, ec.loc)
		}
		p.st.Conds[k] = cur
		// the absorbed stamps must be written even when nothing else of
		// the survivor changes (the absorbed state is gone after this)
		p.dirty = true
		names[c.Name] = true
	}
	u.mergedEvents = u.mergedEvents[:0]
	for n := range names {
		u.mergedEvents = append(u.mergedEvents, n)
	}
	sort.Strings(u.mergedEvents)
	return s.applyOnce(ctx, ec, p, u)
}
