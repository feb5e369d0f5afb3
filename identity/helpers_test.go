package identity

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// fixedNow is the tests' clock.
var fixedNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// testTenants declares one tenant (API key "api-<id>", write key
// "write-<id>") with whatsapp_id mapped to the whatsapp identifier, plus a
// second tenant "<id>-other".
func testTenants(t testing.TB, id string) *config.Tenants {
	t.Helper()
	ts, err := config.NewTenants([]config.Tenant{
		{
			ID: id, APIKeys: []string{"api-" + id}, WriteKeys: []string{"write-" + id},
			Identity: config.IdentityRules{
				TraitIdentifiers: map[string]string{"whatsapp_id": "whatsapp"},
				DefaultRegion:    "IN",
				Blocked:          []string{"test@example.com"},
			},
		},
		{ID: id + "-other", APIKeys: []string{"api-other-" + id}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// capture collects produced records.
type capture struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func (c *capture) produce(_ context.Context, recs ...*kgo.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, recs...)
	return nil
}

func (c *capture) updates(t testing.TB) []schemas.ProfileUpdate {
	return capturedOf[schemas.ProfileUpdate](t, c, schemas.NewTopics("").ProfileUpdates)
}

func (c *capture) deadLetters(t testing.TB) []schemas.DeadLetter {
	return capturedOf[schemas.DeadLetter](t, c, schemas.NewTopics("").DeadLetter)
}

// capturedOf decodes the captured records of one topic.
func capturedOf[T any](t testing.TB, c *capture, topic string) []T {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []T
	for _, r := range c.recs {
		if r.Topic != topic {
			continue
		}
		var v T
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// rig is a store and processor on one Redis backend with a fresh namespace
// and tenant.
type rig struct {
	tenant string
	rdb    redis.UniversalClient
	store  *Store
	proc   *Processor
	out    *capture
	ts     *config.Tenants
}

func newRig(t testing.TB, rdb redis.UniversalClient) *rig {
	t.Helper()
	return newRigNS(t, rdb, namespace(t, rdb))
}

// newRigNS is newRig in a given namespace (with a fresh tenant).
func newRigNS(t testing.TB, rdb redis.UniversalClient, ns string) *rig {
	t.Helper()
	tenant := testenv.Tenant(t)
	ts := testTenants(t, tenant)
	store := NewStore(rdb, ns, WithClock(func() time.Time { return fixedNow }), WithTenants(ts))
	out := &capture{}
	proc := NewProcessor(store, ts, schemas.NewTopics(""), out.produce, zerolog.Nop(), nil)
	return &rig{tenant: tenant, rdb: rdb, store: store, proc: proc, out: out, ts: ts}
}

// record encodes an event as an events-topic record of the rig's tenant.
func (g *rig) record(t testing.TB, e schemas.Event) *kgo.Record {
	t.Helper()
	if e.Timestamp.IsZero() {
		e.Timestamp = fixedNow
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{
		Topic: schemas.NewTopics("").Events, Key: schemas.Key(g.tenant, e.IdentityKey()), Value: b,
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte(g.tenant)}},
	}
}

// apply runs events through the processor as one batch.
func (g *rig) apply(t testing.TB, events ...schemas.Event) {
	t.Helper()
	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		recs[i] = g.record(t, e)
	}
	if err := g.proc.Handle(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// resolve finds the live profile id of a ref.
func (g *rig) resolve(t testing.TB, ref string) string {
	t.Helper()
	pid, err := g.store.Resolve(context.Background(), g.tenant, ref)
	if err != nil {
		t.Fatalf("resolve %s: %v", ref, err)
	}
	return pid
}

// events reads the timeline and daily counts of a profile (by id, or by
// a ref such as "user_id:7").
func (g *rig) events(t testing.TB, ref string) schemas.ProfileEvents {
	t.Helper()
	pid := g.resolve(t, ref)
	ev, err := g.store.ProfileEvents(context.Background(), g.tenant, pid)
	if err != nil {
		t.Fatalf("events of %s: %v", pid, err)
	}
	return ev
}

// inTimeline counts a messageId's entries in a timeline.
func inTimeline(ev schemas.ProfileEvents, mid string) int {
	n := 0
	for _, e := range ev.Recent {
		if e.MessageID == mid {
			n++
		}
	}
	return n
}

// profile resolves a ref and reads the profile.
func (g *rig) profile(t testing.TB, ref string) schemas.Profile {
	t.Helper()
	pid := g.resolve(t, ref)
	p, err := g.store.GetProfile(context.Background(), g.tenant, pid)
	if err != nil {
		t.Fatalf("profile %s: %v", pid, err)
	}
	return p
}

func hasIdentity(p schemas.Profile, typ, val string) bool {
	for _, id := range p.Identities {
		if id.Type == typ && id.Value == val {
			return true
		}
	}
	return false
}

func at(min int) time.Time { return fixedNow.Add(time.Duration(min) * time.Minute) }

// namespace returns a fresh key namespace whose keys are removed when the
// test ends (the real Redis is shared; never FLUSHDB).
func namespace(t testing.TB, rdb redis.UniversalClient) string {
	return testenv.RedisNamespace(t, rdb)
}
