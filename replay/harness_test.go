package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// now is the tests' clock: the live stages and the replay share it, so
// windows ("within 30 days") are evaluated at the same instant.
var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// env is a broker, the real Redis, one tenant, a definitions store and a
// base namespace (generation 1) no other test uses.
type env struct {
	t       testing.TB
	brokers []string
	topics  schemas.Topics
	rdb     redis.UniversalClient
	tenant  string
	tenants *config.Tenants
	defs    *defs.Store
	base    string
	cl      *kgo.Client
	pub     *ingest.Publisher
	idGroup string
	sgGroup string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	k, topics := testenv.Kafka(t)
	rdb := testenv.Redis(t)
	e := &env{t: t, brokers: k.Addrs(), topics: topics, rdb: rdb, tenant: testenv.Tenant(t), base: testenv.RedisNamespace(t, rdb)}
	e.idGroup, e.sgGroup = "id-"+e.base, "sg-"+e.base
	ts, err := config.NewTenants([]config.Tenant{{ID: e.tenant, APIKeys: []string{"ak-" + e.tenant}}, {ID: e.tenant + "-b"}})
	if err != nil {
		t.Fatal(err)
	}
	e.tenants = ts
	d, err := defs.New(defs.Config{Client: kafka.ClientConfig{Brokers: e.brokers}, Topic: topics.Definitions}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := d.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	e.defs = d
	e.cl = testenv.Client(t, e.brokers)
	e.pub = ingest.NewPublisher(e.cl, topics, "test")
	t.Cleanup(func() { cleanKeys(e.rdb, e.base+"*") })
	return e
}

// cleanKeys deletes a test's keys (never FLUSHDB: the Redis is shared).
func cleanKeys(rdb redis.UniversalClient, pattern string) {
	_ = redisx.UnlinkMatching(context.Background(), rdb, pattern)
}

// segment stores a segment definition.
func (e *env) segment(id, rule string) {
	e.t.Helper()
	seg := segmenter.Segment{ID: id, Name: id, Rule: json.RawMessage(rule), Revision: 1, CreatedAt: now, UpdatedAt: now}
	if err := e.defs.Put(context.Background(), segmenter.KindSegment, e.tenant, id, seg); err != nil {
		e.t.Fatal(err)
	}
}

// publish sends events through the gateway's publisher (after broker ack).
func (e *env) publish(evs ...schemas.Event) {
	e.t.Helper()
	e.publishFor(e.tenant, evs...)
}

// publishFor sends events of a tenant.
func (e *env) publishFor(tenant string, evs ...schemas.Event) {
	e.t.Helper()
	for i := range evs {
		if evs[i].ReceivedAt.IsZero() {
			evs[i].ReceivedAt = evs[i].Timestamp
		}
	}
	if err := e.pub.Publish(context.Background(), tenant, evs, nil); err != nil {
		e.t.Fatal(err)
	}
}

// live runs the identity and segmenter stages on the base namespace, as a
// deployed pipeline does, until the test ends.
func (e *env) live() {
	e.t.Helper()
	e.liveWith(identity.DefaultConfig())
}

// caughtUp waits until group committed the end of topic.
func (e *env) caughtUp(group, topic string) {
	e.t.Helper()
	adm := kadm.NewClient(e.cl)
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			e.t.Fatal(err)
		}
		got, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			behind := false
			ends.Each(func(o kadm.ListedOffset) {
				if o.Offset == 0 {
					return
				}
				c, ok := got.Lookup(topic, o.Partition)
				if !ok || c.At < o.Offset {
					behind = true
				}
			})
			if !behind {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("group %s did not catch up on %s", group, topic)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until the live pipeline applied everything published.
func (e *env) settle() {
	e.t.Helper()
	e.caughtUp(e.idGroup, e.topics.Events)
	e.caughtUp(e.sgGroup, e.topics.ProfileUpdates)
}

// snapshot is the derived state of a tenant in a canonical form.
type snapshot struct {
	Profiles map[string]string // profile id → canonical JSON (traits, identities, times, merges)
	Index    map[string]string // identifier → profile id
	Aliases  map[string]string // merged-away id → survivor
	Counters map[string]string // profile id → canonical daily counts
	Timeline map[string]string // profile id → recent messageIds
	Members  map[string][]string
}

func takeSnapshot(t testing.TB, rdb redis.UniversalClient, tenants *config.Tenants, ns, tenant string) snapshot {
	t.Helper()
	ctx := context.Background()
	store := identity.NewStore(rdb, ns, identity.WithTenants(tenants), identity.WithClock(clock))
	s := snapshot{Profiles: map[string]string{}, Index: map[string]string{}, Aliases: map[string]string{}, Counters: map[string]string{}, Timeline: map[string]string{}, Members: map[string][]string{}}
	cursor := ""
	for {
		ps, next, err := store.ScanProfiles(ctx, tenant, cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			p.Segments = nil
			sort.Slice(p.Identities, func(i, j int) bool {
				return p.Identities[i].Type+":"+p.Identities[i].Value < p.Identities[j].Type+":"+p.Identities[j].Value
			})
			sort.Strings(p.MergedFrom)
			b, _ := json.Marshal(p) // maps marshal with sorted keys
			s.Profiles[p.ID] = string(b)
			ev, err := store.ProfileEvents(ctx, tenant, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := json.Marshal(ev.DailyCounts)
			s.Counters[p.ID] = string(c)
			var ids []string
			for _, r := range ev.Recent {
				ids = append(ids, r.MessageID)
			}
			s.Timeline[p.ID] = strings.Join(ids, ",")
		}
		if next == "" {
			break
		}
		cursor = next
	}
	prefix := ns + ":{" + tenant + "}:"
	scan := func(kind string, fn func(key, rest string)) {
		iter := rdb.Scan(ctx, 0, prefix+kind+"*", 20000).Iterator()
		for iter.Next(ctx) {
			fn(iter.Val(), strings.TrimPrefix(iter.Val(), prefix+kind))
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	scan("id:", func(key, rest string) { s.Index[rest] = rdb.Get(ctx, key).Val() })
	scan("al:", func(key, rest string) { s.Aliases[rest] = rdb.Get(ctx, key).Val() })
	scan("seg:m:", func(key, rest string) {
		m := rdb.ZRange(ctx, key, 0, -1).Val()
		sort.Strings(m)
		if len(m) > 0 {
			s.Members[rest] = m
		}
	})
	return s
}

// diff lists the differences of two snapshots.
func diff(a, b snapshot) []string {
	var out []string
	cmp := func(what string, x, y map[string]string) {
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			if x[k] != y[k] {
				out = append(out, fmt.Sprintf("%s %s:\n  live   %s\n  replay %s", what, k, x[k], y[k]))
			}
		}
	}
	cmp("profile", a.Profiles, b.Profiles)
	cmp("identifier", a.Index, b.Index)
	cmp("alias", a.Aliases, b.Aliases)
	cmp("counters", a.Counters, b.Counters)
	cmp("timeline", a.Timeline, b.Timeline)
	join := func(m map[string][]string) map[string]string {
		o := map[string]string{}
		for k, v := range m {
			o[k] = strings.Join(v, ",")
		}
		return o
	}
	cmp("members", join(a.Members), join(b.Members))
	return out
}

// options are a replay's options on the env.
func (e *env) options() replay.Options {
	o := replay.Options{
		Kafka: kafka.ClientConfig{Brokers: e.brokers}, Topics: e.topics, Redis: e.rdb, Tenants: e.tenants,
		Definitions: e.defs, Base: e.base, Log: zerolog.Nop(), Clock: clock,
	}
	o.Identity.Group, o.Segmenter.Group = e.idGroup, e.sgGroup
	return o
}
