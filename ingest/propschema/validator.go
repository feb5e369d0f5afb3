package propschema

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/user360/user360/internal/config"
)

// Store is the part of internal/defs the schema uses; *defs.Store
// implements it.
type Store interface {
	Put(ctx context.Context, kind, tenant, id string, value any) error
	Delete(ctx context.Context, kind, tenant, id string) error
	Subscribe(kind string, fn func(tenant, id string, value json.RawMessage))
}

// tenantSchema is the immutable schema of one tenant; updates replace it.
type tenantSchema struct {
	props  map[string]Property // custom properties and system overrides, by name
	lower  map[string]string   // lower-case name → name, custom properties only
	events map[string]EventName
}

func (s *tenantSchema) clone() *tenantSchema {
	c := &tenantSchema{
		props:  make(map[string]Property, len(s.props)+1),
		lower:  make(map[string]string, len(s.lower)+1),
		events: make(map[string]EventName, len(s.events)+1),
	}
	for k, v := range s.props {
		c.props[k] = v
	}
	for k, v := range s.lower {
		c.lower[k] = v
	}
	for k, v := range s.events {
		c.events[k] = v
	}
	return c
}

var emptySchema = &tenantSchema{}

// Validator coerces and validates traits against each tenant's schema. It
// is safe for concurrent use: readers load an immutable per-tenant
// snapshot, writers (the defs subscription, local writes) replace it.
type Validator struct {
	mu      sync.Mutex // serialises writers
	tenants sync.Map   // tenant id → *atomic.Pointer[tenantSchema]
	m       *metrics
}

// NewValidator builds a validator fed by the store's subscription to the
// property and event-name kinds. Subscribe replays existing definitions, so
// the validator is complete once the store is ready. store may be nil: the
// validator then knows the system properties only.
func NewValidator(store Store) *Validator {
	v := &Validator{}
	if store != nil {
		store.Subscribe(KindProperty, func(tenant, id string, raw json.RawMessage) {
			v.applyProperty(tenant, id, raw)
		})
		store.Subscribe(KindEventName, func(tenant, id string, raw json.RawMessage) {
			v.applyEventName(tenant, id, raw)
		})
	}
	return v
}

func (v *Validator) schema(tenant string) *tenantSchema {
	p, ok := v.tenants.Load(tenant)
	if !ok {
		return emptySchema
	}
	if s := p.(*atomic.Pointer[tenantSchema]).Load(); s != nil {
		return s
	}
	return emptySchema
}

// update replaces a tenant's schema with fn applied to a copy.
func (v *Validator) update(tenant string, fn func(s *tenantSchema)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, _ := v.tenants.LoadOrStore(tenant, new(atomic.Pointer[tenantSchema]))
	ptr := p.(*atomic.Pointer[tenantSchema])
	cur := ptr.Load()
	if cur == nil {
		cur = emptySchema
	}
	next := cur.clone()
	fn(next)
	ptr.Store(next)
}

func (v *Validator) applyProperty(tenant, id string, raw json.RawMessage) {
	var p Property
	if raw != nil {
		if err := json.Unmarshal(raw, &p); err != nil || p.Name != id || !p.Type.Valid() {
			return // not ours to judge: skip a definition we cannot read
		}
	}
	v.update(tenant, func(s *tenantSchema) {
		if raw == nil {
			if old, ok := s.props[id]; ok && !old.System {
				delete(s.lower, strings.ToLower(id))
			}
			delete(s.props, id)
			return
		}
		if sys, ok := systemByName[id]; ok {
			// Only description and searchable of a system property change.
			sys.Description, sys.Searchable = p.Description, p.Searchable
			sys.UpdatedAt = p.UpdatedAt
			s.props[id] = sys
			return
		}
		p.System = false
		s.props[id] = p
		s.lower[strings.ToLower(id)] = id
	})
}

func (v *Validator) applyEventName(tenant, id string, raw json.RawMessage) {
	var e EventName
	if raw != nil {
		if err := json.Unmarshal(raw, &e); err != nil || e.Name != id {
			return
		}
	}
	v.update(tenant, func(s *tenantSchema) {
		if raw == nil {
			delete(s.events, id)
			return
		}
		s.events[id] = e
	})
}

// Property returns a tenant's property by exact name (system or custom).
func (v *Validator) Property(tenant, name string) (Property, bool) {
	if p, ok := v.schema(tenant).props[name]; ok {
		return p, true
	}
	p, ok := systemByName[name]
	return p, ok
}

// PropertyFold finds a property by case-insensitive name.
func (v *Validator) PropertyFold(tenant, name string) (Property, bool) {
	if p, ok := v.Property(tenant, name); ok {
		return p, true
	}
	l := strings.ToLower(name)
	if n, ok := systemByLower[l]; ok {
		return v.Property(tenant, n)
	}
	if n, ok := v.schema(tenant).lower[l]; ok {
		return v.Property(tenant, n)
	}
	return Property{}, false
}

// Properties lists a tenant's properties: the system ones in their fixed
// order, then the custom ones by name.
func (v *Validator) Properties(tenant string) []Property {
	s := v.schema(tenant)
	out := make([]Property, 0, len(systemProps)+len(s.props))
	for _, p := range systemProps {
		if o, ok := s.props[p.Name]; ok {
			p = o
		}
		out = append(out, p)
	}
	custom := make([]Property, 0, len(s.props))
	for name, p := range s.props {
		if !IsSystem(name) {
			custom = append(custom, p)
		}
	}
	sort.Slice(custom, func(i, j int) bool { return custom[i].Name < custom[j].Name })
	return append(out, custom...)
}

// customCount is the number of custom properties of a tenant.
func (v *Validator) customCount(tenant string) int {
	return len(v.schema(tenant).lower)
}

// EventNames lists a tenant's allow-list of event names, by name.
func (v *Validator) EventNames(tenant string) []EventName {
	s := v.schema(tenant)
	out := make([]EventName, 0, len(s.events))
	for _, e := range s.events {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// EventAllowed reports whether a custom event name may be tracked: true
// when the tenant has no allow-list, else whether the name is on it.
func (v *Validator) EventAllowed(tenant, name string) bool {
	s := v.schema(tenant)
	if len(s.events) == 0 {
		return true
	}
	_, ok := s.events[name]
	return ok
}

// Apply coerces and validates traits against the tenant's schema. It
// returns a new map with the values to keep and one Problem per value it
// dropped (sorted by field); the input map is not modified. csv enables the
// coercions that only make sense for CSV cells ("a;b" to a list, yes/no
// and 1/0 to booleans). Traits the schema does not declare are kept as
// untyped custom traits (strings still capped at MaxStringLen), or rejected
// with CodeInvalidProperty when the tenant is in strict mode. Apply is pure
// and does no I/O.
func (v *Validator) Apply(t *config.Tenant, traits map[string]any, csv bool) (map[string]any, []Problem) {
	tenantID, strict := "", false
	o := coerceOpts{csv: csv}
	if t != nil {
		tenantID, strict = t.ID, t.StrictSchema
		o.loc = t.Location()
		o.region = t.Identity.DefaultRegion
	}
	s := v.schema(tenantID)
	clean := make(map[string]any, len(traits))
	var problems []Problem
	for k, val := range traits {
		p, ok := s.props[k]
		if !ok {
			p, ok = systemByName[k]
		}
		if !ok {
			if strict {
				problems = append(problems, Problem{Field: k, Code: CodeInvalidProperty,
					Message: "the property " + strconv.Quote(k) + " is not in the schema and the schema is strict"})
				continue
			}
			if str, isStr := val.(string); isStr {
				if pr := tooLong(str, MaxStringLen); pr != nil {
					problems = append(problems, Problem{Field: k, Code: pr.code, Message: pr.msg})
					continue
				}
			}
			clean[k] = val
			continue
		}
		cv, pr := coerce(p.Type, val, &o)
		if pr != nil {
			problems = append(problems, Problem{Field: k, Code: pr.code, Message: pr.msg})
			continue
		}
		clean[k] = cv
	}
	if len(problems) > 1 {
		sort.Slice(problems, func(i, j int) bool { return problems[i].Field < problems[j].Field })
	}
	if len(problems) > 0 && v.m != nil {
		for _, p := range problems {
			v.m.problems.WithLabelValues(tenantID, p.Code).Inc()
		}
	}
	return clean, problems
}

// Coerce converts one value to a property type, with the same rules as
// Apply. It returns the problem (Field empty) when the value is invalid.
func Coerce(t *config.Tenant, typ Type, val any, csv bool) (any, *Problem) {
	o := coerceOpts{csv: csv}
	if t != nil {
		o.loc = t.Location()
		o.region = t.Identity.DefaultRegion
	}
	cv, pr := coerce(typ, val, &o)
	if pr != nil {
		return nil, &Problem{Code: pr.code, Message: pr.msg}
	}
	return cv, nil
}
