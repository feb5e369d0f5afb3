package identity

import (
	"sort"
	"strings"
	"sync"

	"github.com/user360/user360/internal/config"
)

// Identifier types with built-in meaning.
const (
	TypeUserID      = "user_id"
	TypeAnonymousID = "anonymous_id"
	TypeEmail       = "email"
	TypePhone       = "phone"
)

// builtinBlocked are values that never identify anyone (compared
// case-insensitively), besides those made only of zeros and dashes
// (zerosAndDashes).
var builtinBlocked = []string{"", "null", "undefined", "anonymous", "0", "-1", "none", "nil", "n/a"}

// zerosAndDashes says whether v matches ^[0-]*$, without a regexp (it
// runs for every identifier of every message).
func zerosAndDashes(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '0' && v[i] != '-' {
			return false
		}
	}
	return true
}

// rules are a tenant's identity rules, compiled for the hot path.
type rules struct {
	rank          map[string]int // listed types: 0 = highest
	limits        map[string]int
	blocked       map[string]bool
	traitIDs      map[string]string
	defaultRegion string
}

func compileRules(t *config.Tenant) *rules {
	r := t.Rules()
	c := &rules{
		rank:          make(map[string]int, len(r.Priority)),
		limits:        make(map[string]int, len(r.Limits)),
		blocked:       make(map[string]bool, len(builtinBlocked)+len(r.Blocked)),
		traitIDs:      make(map[string]string, len(r.TraitIdentifiers)),
		defaultRegion: strings.ToUpper(r.DefaultRegion),
	}
	for i, p := range r.Priority {
		p = normType(p)
		if _, dup := c.rank[p]; !dup {
			c.rank[p] = i
		}
	}
	for k, v := range r.Limits {
		c.limits[normType(k)] = v
	}
	for _, b := range builtinBlocked {
		c.blocked[b] = true
	}
	for _, b := range r.Blocked {
		c.blocked[strings.ToLower(strings.TrimSpace(b))] = true
	}
	for k, v := range r.TraitIdentifiers {
		if nt := normType(v); nt != "" {
			c.traitIDs[k] = nt
		}
	}
	return c
}

// limit is the most values of a type one profile may hold.
func (r *rules) limit(typ string) int {
	if n, ok := r.limits[typ]; ok {
		return n
	}
	return config.DefaultIdentityLimit
}

// isBlocked reports whether a (normalised) value must never identify anyone.
func (r *rules) isBlocked(v string) bool {
	v = strings.TrimSpace(v)
	return zerosAndDashes(v) || r.blocked[strings.ToLower(v)]
}

// less orders identifier types by priority: listed types first in listed
// order, then the rest by name.
func (r *rules) less(a, b string) bool {
	ra, oka := r.rank[a]
	rb, okb := r.rank[b]
	switch {
	case oka && okb:
		return ra < rb
	case oka:
		return true
	case okb:
		return false
	default:
		return a < b
	}
}

// sortByPriority orders identities highest priority first, keeping the
// message order among values of one type.
func (r *rules) sortByPriority(ids []ident) {
	sort.SliceStable(ids, func(i, j int) bool {
		if ids[i].Type == ids[j].Type {
			return false
		}
		return r.less(ids[i].Type, ids[j].Type)
	})
}

// normType lower-cases an identifier type and rejects types that would
// break the key layout.
func normType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "" || len(t) > 64 || strings.ContainsAny(t, ": {}\n\r\t|") {
		return ""
	}
	return t
}

// ruleCache compiles each tenant's rules once (tenants are immutable).
type ruleCache struct {
	tenants *config.Tenants
	m       sync.Map // tenant id -> *rules
}

func (c *ruleCache) get(tenant string) (*rules, bool) {
	if v, ok := c.m.Load(tenant); ok {
		return v.(*rules), true
	}
	if c.tenants == nil {
		return nil, false
	}
	t, ok := c.tenants.Get(tenant)
	if !ok {
		return nil, false
	}
	r := compileRules(t)
	c.m.Store(tenant, r)
	return r, true
}

// defaultRules apply to tenants the store has no rules for.
var defaultRules = compileRules(&config.Tenant{})
