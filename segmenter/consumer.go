package segmenter

import (
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
	traitsRaw    json.RawMessage
	traits       map[string]any
	partition    int32
	offset       int64
	mergedSegs   []string
	mergedEvents []string
}

type updateWire struct {
	schemas.ProfileUpdate
	Traits json.RawMessage `json:"traits,omitempty"`
}

// decodeUpdate reads one record of the profile-updates topic.
func decodeUpdate(value []byte) (*update, error) {
	var w updateWire
	if err := json.Unmarshal(value, &w); err != nil {
		return nil, fmt.Errorf("segmenter: decode profile update: %w", err)
	}
	u := &update{ProfileUpdate: w.ProfileUpdate}
	if len(w.Traits) > 0 && string(w.Traits) != "null" {
		if err := json.Unmarshal(w.Traits, &u.traits); err != nil {
			return nil, fmt.Errorf("segmenter: decode profile update traits: %w", err)
		}
		u.traitsRaw = w.Traits
	}
	if u.Tenant == "" || u.ProfileID == "" {
		return nil, fmt.Errorf("segmenter: profile update without tenant or profileId")
	}
	return u, nil
}

// Handle applies a batch of profile-updates records (the kafka.Handler of
// the role). Records of one profile are applied in order; a merge is
// applied on its own, after what precedes it.
func (s *Service) Handle(ctx context.Context, records []*kgo.Record) error {
	var batch []*work
	byKey := map[string]*[]*update{}
	flush := func() error {
		err := s.process(ctx, batch)
		batch, byKey = nil, map[string]*[]*update{}
		return err
	}
	for _, r := range records {
		u, err := decodeUpdate(r.Value)
		if err != nil {
			s.metrics.updates.WithLabelValues("", "invalid").Inc()
			s.deps.Log.Warn().Err(err).Int32("partition", r.Partition).Int64("offset", r.Offset).Msg("skipping undecodable profile update")
			continue
		}
		if _, ok := s.deps.Tenants.Get(u.Tenant); !ok {
			s.metrics.updates.WithLabelValues("", "unknown_tenant").Inc()
			continue
		}
		u.partition, u.offset = r.Partition, r.Offset
		s.metrics.updates.WithLabelValues(u.Tenant, "applied").Inc()
		if u.Type == schemas.ProfileMerged && u.Merge != nil && len(u.Merge.Absorbed) > 0 {
			if err := flush(); err != nil {
				return err
			}
			if err := s.applyMerge(ctx, u); err != nil {
				return err
			}
			continue
		}
		key := u.Tenant + "/" + u.ProfileID
		list, ok := byKey[key]
		if !ok {
			list = &[]*update{}
			byKey[key] = list
			batch = append(batch, &work{p: &pstate{tenant: u.Tenant, id: u.ProfileID}, apply: func(ctx context.Context, ec *evalCtx, p *pstate) error {
				for _, u := range *list {
					if err := s.applyOnce(ctx, ec, p, u); err != nil {
						return err
					}
				}
				return nil
			}})
		}
		*list = append(*list, u)
	}
	return flush()
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
	p.st.Offsets[pk] = u.offset
	p.dirty = true
	return nil
}

// applyMerge exits the absorbed profiles' memberships (cause merge), moves
// their event-condition state to the survivor and re-evaluates it.
func (s *Service) applyMerge(ctx context.Context, u *update) error {
	var absorbed []*work
	for _, id := range u.Merge.Absorbed {
		if id == u.ProfileID {
			continue
		}
		absorbed = append(absorbed, &work{p: &pstate{tenant: u.Tenant, id: id}, apply: func(ctx context.Context, ec *evalCtx, p *pstate) error {
			s.absorb(ec, p)
			return nil
		}})
	}
	if err := s.process(ctx, absorbed); err != nil {
		return err
	}
	conds := map[string][]int64{}
	segs := map[string]bool{}
	for _, w := range absorbed {
		for k, ts := range w.p.st.Conds {
			conds[k] = append(conds[k], ts...)
		}
		for id := range w.p.st.Segs {
			segs[id] = true
		}
	}
	for id := range segs {
		u.mergedSegs = append(u.mergedSegs, id)
	}
	sort.Strings(u.mergedSegs)
	survivor := &work{p: &pstate{tenant: u.Tenant, id: u.ProfileID}, apply: func(ctx context.Context, ec *evalCtx, p *pstate) error {
		if p.st.Gone != "" {
			return nil
		}
		pk := partitionKey(u.partition)
		if last, ok := p.st.Offsets[pk]; ok && u.offset <= last {
			return nil
		}
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
			names[c.Name] = true
		}
		u.mergedEvents = u.mergedEvents[:0]
		for n := range names {
			u.mergedEvents = append(u.mergedEvents, n)
		}
		sort.Strings(u.mergedEvents)
		return s.applyOnce(ctx, ec, p, u)
	}}
	return s.process(ctx, []*work{survivor})
}
