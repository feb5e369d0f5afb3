package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors.
var (
	ErrNoTenants     = errors.New("config: no tenants declared")
	ErrDuplicateKey  = errors.New("config: a key is used twice")
	ErrInvalidTenant = errors.New("config: invalid tenant")
	ErrUnknownTenant = errors.New("config: unknown tenant")
)

// IdentityRules are a tenant's identity-resolution rules. Zero values take
// the defaults of DefaultIdentityRules.
type IdentityRules struct {
	// Priority orders identifier types, highest first. Types not listed
	// rank below every listed one, in name order.
	Priority []string `yaml:"priority" json:"priority"`
	// Limits caps the values of one type on a profile (default 5, user_id 1).
	Limits map[string]int `yaml:"limits" json:"limits"`
	// Blocked values never become identifiers (added to the built-in list).
	Blocked []string `yaml:"blocked" json:"blocked"`
	// TraitIdentifiers maps trait keys to identifier types
	// (e.g. whatsapp_id -> whatsapp).
	TraitIdentifiers map[string]string `yaml:"traitIdentifiers" json:"traitIdentifiers"`
	// DefaultRegion is the ISO country for phone numbers without a country
	// code (default "US").
	DefaultRegion string `yaml:"defaultRegion" json:"defaultRegion"`
}

// DefaultIdentityRules returns the rules used when a tenant declares none.
func DefaultIdentityRules() IdentityRules {
	return IdentityRules{
		Priority:      []string{"user_id", "email", "phone"},
		Limits:        map[string]int{"user_id": 1},
		DefaultRegion: "US",
	}
}

// DefaultIdentityLimit is the per-type limit for types without their own.
const DefaultIdentityLimit = 5

// Tenant is one customer of the platform; every piece of data belongs to one.
type Tenant struct {
	ID string `yaml:"id" json:"id"`
	// WriteKeys authenticate the tracking API (write only). Plain values are
	// hashed at load; "sha256:<hex>" values are taken as hashes.
	WriteKeys []string `yaml:"writeKeys" json:"-"`
	// APIKeys authenticate the read/admin APIs, same forms as WriteKeys.
	APIKeys []string `yaml:"apiKeys" json:"-"`
	// Timezone is an IANA name, default UTC; calendar windows use it.
	Timezone string        `yaml:"timezone" json:"timezone"`
	Identity IdentityRules `yaml:"identity" json:"identity"`
	// AllowPrivateWebhooks lets webhook destinations target loopback and
	// private addresses (dev and tests).
	AllowPrivateWebhooks bool `yaml:"allowPrivateWebhooks" json:"allowPrivateWebhooks"`
	// StrictSchema rejects traits that the property schema does not declare.
	StrictSchema bool `yaml:"strictSchema" json:"strictSchema"`

	location *time.Location
}

// Location returns the tenant's time zone (UTC when unset).
func (t *Tenant) Location() *time.Location {
	if t.location == nil {
		return time.UTC
	}
	return t.location
}

// Rules returns the identity rules with defaults filled in.
func (t *Tenant) Rules() IdentityRules {
	r := t.Identity
	d := DefaultIdentityRules()
	if len(r.Priority) == 0 {
		r.Priority = d.Priority
	}
	// Copy: Rules may be called concurrently and must not write the
	// tenant's own map.
	limits := make(map[string]int, len(r.Limits)+len(d.Limits))
	for k, v := range r.Limits {
		limits[k] = v
	}
	r.Limits = limits
	for k, v := range d.Limits {
		if _, ok := r.Limits[k]; !ok {
			r.Limits[k] = v
		}
	}
	if r.DefaultRegion == "" {
		r.DefaultRegion = d.DefaultRegion
	}
	return r
}

func (t *Tenant) validate() error {
	if t.ID == "" || strings.ContainsAny(t.ID, "/{}: ") {
		return fmt.Errorf("%w: id %q must be non-empty and contain no '/', '{', '}', ':' or space", ErrInvalidTenant, t.ID)
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return fmt.Errorf("%w %s: timezone: %w", ErrInvalidTenant, t.ID, err)
	}
	t.location = loc
	for typ, n := range t.Identity.Limits {
		if n < 1 {
			return fmt.Errorf("%w %s: identity.limits.%s must be at least 1", ErrInvalidTenant, t.ID, typ)
		}
	}
	return nil
}

// HashKey returns the stored form of a key: "sha256:<hex>".
func HashKey(key string) string {
	if strings.HasPrefix(key, "sha256:") {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// normHashedKey returns a configured key as HashKey matches it: a hashed
// key ("sha256:" in any case) in lowercase, anything else as it is. A
// hashed key that is not 64 hex digits is refused: it could never match,
// and the tenant would get 401s with no word at startup.
func normHashedKey(k string) (string, error) {
	lower := strings.ToLower(k)
	hexPart, hashed := strings.CutPrefix(lower, "sha256:")
	if !hashed {
		return k, nil
	}
	if len(hexPart) != 64 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		return "", errors.New(`a "sha256:" key must be followed by 64 hexadecimal digits`)
	}
	return lower, nil
}

// Tenants is the immutable set of tenants, indexed by id and by key hash.
type Tenants struct {
	byID    map[string]*Tenant
	byWrite map[string]*Tenant
	byAPI   map[string]*Tenant
	order   []string
}

// NewTenants validates the tenants, hashes their keys and indexes them.
func NewTenants(list []Tenant) (*Tenants, error) {
	if len(list) == 0 {
		return nil, ErrNoTenants
	}
	ts := &Tenants{byID: map[string]*Tenant{}, byWrite: map[string]*Tenant{}, byAPI: map[string]*Tenant{}}
	for i := range list {
		t := list[i]
		if err := t.validate(); err != nil {
			return nil, err
		}
		if _, dup := ts.byID[t.ID]; dup {
			return nil, fmt.Errorf("%w: tenant id %q declared twice", ErrInvalidTenant, t.ID)
		}
		hashAll := func(keys []string, idx map[string]*Tenant, other map[string]*Tenant) ([]string, error) {
			out := make([]string, 0, len(keys))
			for _, k := range keys {
				if k == "" {
					return nil, fmt.Errorf("%w %s: empty key", ErrInvalidTenant, t.ID)
				}
				k, err := normHashedKey(k)
				if err != nil {
					return nil, fmt.Errorf("%w %s: %w", ErrInvalidTenant, t.ID, err)
				}
				h := HashKey(k)
				if _, dup := idx[h]; dup {
					return nil, fmt.Errorf("%w (tenant %s)", ErrDuplicateKey, t.ID)
				}
				if _, dup := other[h]; dup {
					return nil, fmt.Errorf("%w: a key is both a write key and an API key (tenant %s)", ErrDuplicateKey, t.ID)
				}
				out = append(out, h)
			}
			return out, nil
		}
		var err error
		tp := &t
		if tp.WriteKeys, err = hashAll(t.WriteKeys, ts.byWrite, ts.byAPI); err != nil {
			return nil, err
		}
		for _, h := range tp.WriteKeys {
			ts.byWrite[h] = tp
		}
		if tp.APIKeys, err = hashAll(t.APIKeys, ts.byAPI, ts.byWrite); err != nil {
			return nil, err
		}
		for _, h := range tp.APIKeys {
			ts.byAPI[h] = tp
		}
		ts.byID[t.ID] = tp
		ts.order = append(ts.order, t.ID)
	}
	return ts, nil
}

// Get returns a tenant by id.
func (ts *Tenants) Get(id string) (*Tenant, bool) {
	t, ok := ts.byID[id]
	return t, ok
}

// IDs lists tenant ids in declaration order.
func (ts *Tenants) IDs() []string { return append([]string(nil), ts.order...) }

// ByWriteKey finds the tenant a write key belongs to.
func (ts *Tenants) ByWriteKey(key string) (*Tenant, bool) { return lookup(ts.byWrite, key) }

// ByAPIKey finds the tenant an API key belongs to.
func (ts *Tenants) ByAPIKey(key string) (*Tenant, bool) { return lookup(ts.byAPI, key) }

func lookup(idx map[string]*Tenant, key string) (*Tenant, bool) {
	if key == "" || strings.HasPrefix(key, "sha256:") {
		return nil, false
	}
	h := HashKey(key)
	t, ok := idx[h]
	if !ok {
		return nil, false
	}
	// The map lookup already matched the hash; compare again in constant
	// time so that timing does not depend on the key.
	for _, k := range append(t.WriteKeys, t.APIKeys...) {
		if subtle.ConstantTimeCompare([]byte(k), []byte(h)) == 1 {
			return t, true
		}
	}
	return nil, false
}
