package identity

import (
	_ "embed"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/config"
)

//go:embed apply.lua
var applySource string

//go:embed fast.lua
var fastSource string

//go:embed batch.lua
var batchSource string

// applyScript applies a run of one tenant's messages, each atomically:
// fast.lua (writes the processor planned from its profile cache, if the
// profiles are still as planned), apply.lua (the full logic) and batch.lua
// (dedup and the run), as one script.
var applyScript = redis.NewScript(fastSource + "\n" + applySource + "\n" + batchSource)

// Store is the Redis materialised view of profiles: identities, traits,
// timelines, counters, merges. The events log is the source of truth; the
// Processor writes the store and every other reader goes through these
// methods.
type Store struct {
	rdb   redis.UniversalClient
	ns    string
	cfg   Config
	clock func() time.Time
	rules ruleCache
	cut   atomic.Pointer[cutMemo] // counterCut's last answer
}

// StoreOption configures a Store.
type StoreOption func(*Store)

// WithConfig sets the timeline cap, counter lookback and TTLs (defaults of
// DefaultConfig otherwise). Its Namespace is ignored: NewStore's wins.
func WithConfig(c Config) StoreOption {
	return func(s *Store) { s.cfg = c.withDefaults() }
}

// WithClock sets the clock used for counter lookback windows.
func WithClock(now func() time.Time) StoreOption {
	return func(s *Store) {
		if now != nil {
			s.clock = now
		}
	}
}

// WithTenants gives the store the tenants' identity rules, so that a
// reference like phone:09845012345 is normalised with the tenant's region.
func WithTenants(ts *config.Tenants) StoreOption {
	return func(s *Store) { s.rules.tenants = ts }
}

// NewStore returns a store on a Redis client under a key namespace
// ("" = "u360").
func NewStore(rdb redis.UniversalClient, namespace string, opts ...StoreOption) *Store {
	s := &Store{rdb: rdb, cfg: DefaultConfig(), clock: time.Now}
	for _, o := range opts {
		o(s)
	}
	if namespace == "" {
		namespace = DefaultConfig().Namespace
	}
	s.ns = namespace
	s.cfg.Namespace = namespace
	return s
}

// prefix is the key prefix of one tenant: "<ns>:{<tenant>}:". The hash tag
// keeps every key of a tenant in one Redis Cluster slot.
func (s *Store) prefix(tenant string) string { return s.ns + ":{" + tenant + "}:" }

// Key builders (see docs/design/identity.md).
func (s *Store) keyProfiles(t string) string      { return s.prefix(t) + "profiles" }
func (s *Store) keyIdent(t, typ, v string) string { return s.prefix(t) + "id:" + typ + ":" + v }
func (s *Store) keyProfile(t, pid string) string  { return s.prefix(t) + "p:" + pid }
func (s *Store) keyTimeline(t, pid string) string { return s.prefix(t) + "tl:" + pid }
func (s *Store) keyMerges(t, pid string) string   { return s.prefix(t) + "mg:" + pid }
func (s *Store) keyAlias(t, pid string) string    { return s.prefix(t) + "al:" + pid }
func (s *Store) keyDedup(t string, bucket int64) string {
	return s.prefix(t) + "dd:" + strconv.FormatInt(bucket, 10)
}
func (s *Store) keyTomb(t, typ, v string) string { return s.prefix(t) + "tb:" + typ + ":" + v }
