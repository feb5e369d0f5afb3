package segmenter

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/user360/user360/segmenter/rules"
)

// tenantIndex is an immutable snapshot of one tenant's segments, indexed by
// what their rules read.
type tenantIndex struct {
	segs         map[string]*compiled
	byTrait      map[string][]*compiled
	byEvent      map[string][]*compiled
	condsByEvent map[string][]*rules.EventCond
	condsByKey   map[string]*rules.EventCond
	vacuous      []*compiled
}

var emptyIndex = &tenantIndex{segs: map[string]*compiled{}, condsByKey: map[string]*rules.EventCond{}}

// registry holds every tenant's segments; snapshots are rebuilt lazily after
// a change, so that loading thousands of definitions costs one build.
type registry struct {
	mu      sync.Mutex
	defs    map[string]map[string]*compiled // tenant → id → segment
	indexes map[string]*tenantIndex         // nil entry = stale
}

func newRegistry() *registry {
	return &registry{defs: map[string]map[string]*compiled{}, indexes: map[string]*tenantIndex{}}
}

// set stores a definition; it returns false when an equal or newer revision
// is already known. A nil segment deletes.
func (r *registry) set(tenant, id string, c *compiled) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.defs[tenant]
	if m == nil {
		m = map[string]*compiled{}
		r.defs[tenant] = m
	}
	if c == nil {
		if _, ok := m[id]; !ok {
			return false
		}
		delete(m, id)
	} else {
		if old, ok := m[id]; ok && (old.def.Revision > c.def.Revision || (old.def.Revision == c.def.Revision && old.def.UpdatedAt.Equal(c.def.UpdatedAt))) {
			return false
		}
		m[id] = c
	}
	delete(r.indexes, tenant)
	return true
}

func (r *registry) get(tenant, id string) (*compiled, bool) {
	ix := r.index(tenant)
	c, ok := ix.segs[id]
	return c, ok
}

func (r *registry) tenants() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.defs))
	for t, m := range r.defs {
		if len(m) > 0 {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// index returns the tenant's snapshot, rebuilding it when stale.
func (r *registry) index(tenant string) *tenantIndex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ix, ok := r.indexes[tenant]; ok {
		return ix
	}
	m := r.defs[tenant]
	if len(m) == 0 {
		r.indexes[tenant] = emptyIndex
		return emptyIndex
	}
	ix := build(m)
	r.indexes[tenant] = ix
	return ix
}

// build copies the compiled segments (their dependents and depth change)
// and indexes them.
func build(m map[string]*compiled) *tenantIndex {
	ix := &tenantIndex{
		segs:         make(map[string]*compiled, len(m)),
		byTrait:      map[string][]*compiled{},
		byEvent:      map[string][]*compiled{},
		condsByEvent: map[string][]*rules.EventCond{},
		condsByKey:   map[string]*rules.EventCond{},
	}
	ids := make([]string, 0, len(m))
	for id, c := range m {
		cp := *c
		cp.dependents = nil
		cp.depth = 0
		ix.segs[id] = &cp
		ids = append(ids, id)
	}
	sort.Strings(ids)
	seenCond := map[string]bool{}
	for _, id := range ids {
		c := ix.segs[id]
		for _, t := range c.rule.Traits() {
			ix.byTrait[t] = append(ix.byTrait[t], c)
		}
		for _, e := range c.rule.Events() {
			ix.byEvent[e] = append(ix.byEvent[e], c)
		}
		for _, ec := range c.rule.EventConds() {
			if !seenCond[ec.Key()] {
				seenCond[ec.Key()] = true
				ix.condsByEvent[ec.Name] = append(ix.condsByEvent[ec.Name], ec)
				ix.condsByKey[ec.Key()] = ec
			}
		}
		for _, ref := range c.rule.Segments() {
			if p, ok := ix.segs[ref]; ok {
				p.dependents = append(p.dependents, c)
			}
		}
		if c.rule.Vacuous() {
			ix.vacuous = append(ix.vacuous, c)
		}
	}
	var depth func(c *compiled, seen map[string]bool) int
	depth = func(c *compiled, seen map[string]bool) int {
		if c.depth > 0 {
			return c.depth
		}
		if seen[c.def.ID] {
			return 1 // a cycle (refused by the API); break it
		}
		seen[c.def.ID] = true
		d := 1
		for _, ref := range c.rule.Segments() {
			if p, ok := ix.segs[ref]; ok {
				d = max(d, depth(p, seen)+1)
			}
		}
		c.depth = d
		return d
	}
	for _, id := range ids {
		depth(ix.segs[id], map[string]bool{})
	}
	sort.SliceStable(ids, func(i, j int) bool { return ix.segs[ids[i]].depth < ix.segs[ids[j]].depth })
	for i, id := range ids {
		ix.segs[id].order = i
	}
	return ix
}

// compile parses a stored definition. The API validated it with every
// current limit; a definition stored before a limit was added still loads.
func compile(raw json.RawMessage) (*compiled, error) {
	var s Segment
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("segmenter: decoding definition: %w", err)
	}
	r, err := rules.ParseStored(s.Rule, "rule")
	if err != nil {
		return nil, fmt.Errorf("segmenter: parsing stored rule: %w", err)
	}
	return &compiled{def: s, rule: r, conds: r.EventConds()}, nil
}

// wouldCycle says whether a rule referencing refs, stored as id, closes a
// cycle through the tenant's segments.
func (ix *tenantIndex) wouldCycle(id string, refs []string) bool {
	seen := map[string]bool{}
	var reaches func(from string) bool
	reaches = func(from string) bool {
		if from == id {
			return true
		}
		if seen[from] {
			return false
		}
		seen[from] = true
		c, ok := ix.segs[from]
		if !ok {
			return false
		}
		for _, r := range c.rule.Segments() {
			if reaches(r) {
				return true
			}
		}
		return false
	}
	for _, r := range refs {
		if reaches(r) {
			return true
		}
	}
	return false
}
