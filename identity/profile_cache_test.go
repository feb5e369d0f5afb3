package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// cacheRig is a rig whose store has the given profile cache size, on the
// given tenant, in a fresh namespace.
func cacheRig(t testing.TB, rdb redis.UniversalClient, base *rig, cacheSize int) *rig {
	t.Helper()
	ns := namespace(t, rdb)
	store := NewStore(rdb, ns, WithClock(func() time.Time { return fixedNow }), WithTenants(base.ts),
		WithConfig(Config{ProfileCacheSize: cacheSize}))
	out := &capture{}
	proc := NewProcessor(store, base.ts, schemas.NewTopics(""), out.produce, zerolog.Nop(), nil)
	return &rig{tenant: base.tenant, rdb: rdb, store: store, proc: proc, out: out, ts: base.ts}
}

// randomWorkload is a mix of everything identity applies: identifies with
// traits written out of timestamp order (and removed with null), tracks and
// pages of known and anonymous people, links that merge profiles, limits
// in play (two user ids sharing an email), aliases, deletes, and
// redelivered messages.
func randomWorkload(rng *rand.Rand, n int) []schemas.Event {
	var evs []schemas.Event
	plans := []string{"free", "pro", "team"}
	for i := range n {
		ts := fixedNow.Add(time.Duration(rng.IntN(7200)-3600) * time.Second)
		u := rng.IntN(40)
		uid := fmt.Sprintf("u%d", u)
		anon := fmt.Sprintf("a%d", rng.IntN(60))
		mid := fmt.Sprintf("m%d", i)
		var e schemas.Event
		switch x := rng.IntN(100); {
		case x < 5 && len(evs) > 0:
			e = evs[rng.IntN(len(evs))] // redelivery
		case x < 30:
			tr := map[string]any{}
			if rng.IntN(2) == 0 {
				tr["plan"] = plans[rng.IntN(len(plans))]
			}
			if rng.IntN(3) == 0 {
				tr["plan"] = nil
			}
			if rng.IntN(2) == 0 {
				tr["email"] = fmt.Sprintf("e%d@example.com", rng.IntN(45))
			}
			if rng.IntN(4) == 0 {
				tr["tags"] = []any{plans[rng.IntN(3)]}
			}
			if rng.IntN(3) == 0 {
				tr["score"] = rng.IntN(5)
			}
			e = schemas.Event{Type: "identify", MessageID: mid, UserID: uid, Traits: tr, Timestamp: ts}
			if rng.IntN(3) == 0 {
				e.AnonymousID = anon
			}
			if rng.IntN(5) == 0 {
				e.UserID = ""
				e.AnonymousID = anon
			}
		case x < 60:
			e = schemas.Event{Type: "track", MessageID: mid, UserID: uid, Event: "Viewed", Timestamp: ts,
				Properties: map[string]any{"n": rng.IntN(3)}}
			if rng.IntN(2) == 0 {
				e.UserID, e.AnonymousID = "", anon
			}
		case x < 85:
			e = schemas.Event{Type: "page", MessageID: mid, AnonymousID: anon, Name: "Home", Timestamp: ts}
		case x < 93:
			e = schemas.Event{Type: "alias", MessageID: mid, PreviousID: anon, UserID: uid, Timestamp: ts}
		case x < 96:
			e = schemas.Event{Type: "identify", MessageID: mid, UserID: uid, AnonymousID: anon,
				Context: map[string]any{"externalIds": []any{map[string]any{"id": fmt.Sprintf("w%d", rng.IntN(30)), "type": "whatsapp"}}},
				Traits:  map[string]any{"whatsapp_id": fmt.Sprintf("w%d", rng.IntN(30))}, Timestamp: ts}
		default:
			e = schemas.Event{Type: "delete", MessageID: mid, UserID: uid, Timestamp: ts}
		}
		evs = append(evs, e)
	}
	return evs
}

// dumpNamespace reads every key of a namespace in a canonical text form
// (dedup marks by messageId only: their values are outputs whose encodings
// differ between the two paths; profiles without their version token).
func dumpNamespace(t testing.TB, rdb redis.UniversalClient, ns string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := rdb.Scan(ctx, 0, ns+":*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		name := strings.TrimPrefix(k, ns)
		if strings.Contains(name, "}:dd:") {
			for _, f := range rdb.HKeys(ctx, k).Val() {
				out = append(out, name+" ["+f+"]")
			}
			continue
		}
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			out = append(out, name+" = "+rdb.Get(ctx, k).Val())
		case "hash":
			h := rdb.HGetAll(ctx, k).Val()
			for f, v := range h {
				if f == "_v" {
					// version tokens differ where a plan did not hold
					continue
				}
				out = append(out, name+" ["+f+"] = "+v)
			}
		case "list":
			out = append(out, name+" = "+strings.Join(rdb.LRange(ctx, k, 0, -1).Val(), " | "))
		case "zset":
			for _, z := range rdb.ZRangeWithScores(ctx, k, 0, -1).Val() {
				out = append(out, fmt.Sprintf("%s {%v} %v", name, z.Member, z.Score))
			}
		default:
			out = append(out, name+" : "+typ)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// recordValues are the produced records' values, in order.
func recordValues(c *capture) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.recs))
	for i, r := range c.recs {
		out[i] = r.Topic + " " + string(r.Key) + " " + string(r.Value)
	}
	return out
}

// TestProfileCacheMatchesFullScript: random link-heavy workloads give the
// same state and records with the profile cache off, on and tiny
// (compareCacheModes), on redis-server and on the embedded Redis.
func TestProfileCacheMatchesFullScript(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) { profileCacheMatchesFullScript(t, b.Client(t)) })
	}
}

func profileCacheMatchesFullScript(t *testing.T, rdb redis.UniversalClient) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			evs := randomWorkload(rand.New(rand.NewPCG(seed, 99)), 3000)
			rigs := compareCacheModes(t, rdb, evs, seed)
			// the workload is link-heavy (a few dozen people): most messages
			// merge or share identifiers with one in flight
			t.Logf("paths: %s", scriptPaths(rigs["cache"]))
			if fast := testutil.ToFloat64(rigs["cache"].proc.m.scripts.WithLabelValues("fast")); fast < float64(len(evs))/10 {
				t.Errorf("only %v of %d messages took the fast path", fast, len(evs))
			}
			if n := testutil.ToFloat64(rigs["cache"].proc.m.scripts.WithLabelValues("fast_merge")); n < 3 {
				t.Errorf("only %v planned merges", n)
			}
		})
	}
}

// TestPlannedMergesMatchFullScript: visitors with events, counters and
// traits are linked to users (the visitor is sometimes the older profile,
// so it survives; users absorb several visitors, so lineage moves; traits
// conflict both ways and are removed): merges planned from the cache leave
// the state and records of apply.lua's merges.
func TestPlannedMergesMatchFullScript(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) { plannedMergesMatchFullScript(t, b.Client(t)) })
	}
}

func plannedMergesMatchFullScript(t *testing.T, rdb redis.UniversalClient) {
	rng := rand.New(rand.NewPCG(5, 6))
	var evs []schemas.Event
	n := 0
	next := func() string { n++; return fmt.Sprintf("pm%d", n) }
	ts := func() time.Time { return fixedNow.Add(time.Duration(rng.IntN(7200)-3600) * time.Second) }
	for u := range 60 {
		uid := fmt.Sprintf("u%d", u)
		evs = append(evs, schemas.Event{Type: "identify", MessageID: next(), UserID: uid, Timestamp: ts(),
			Traits: map[string]any{"plan": []string{"free", "pro"}[u%2], "city": "Pune", "tags": []any{"u"}}})
		for v := range 3 {
			anon := fmt.Sprintf("v%d-%d", u, v)
			for range 1 + rng.IntN(3) {
				evs = append(evs, schemas.Event{Type: "page", MessageID: next(), AnonymousID: anon, Name: "Home", Timestamp: ts()})
			}
			tr := map[string]any{"plan": "team", "lang": "mr"}
			if rng.IntN(3) == 0 {
				tr["city"] = nil
			}
			evs = append(evs, schemas.Event{Type: "identify", MessageID: next(), AnonymousID: anon, Traits: tr, Timestamp: ts()})
			evs = append(evs, schemas.Event{Type: "track", MessageID: next(), UserID: uid, Event: "Paid", Timestamp: ts()})
		}
	}
	for u := range 60 {
		for v := range 3 {
			evs = append(evs, schemas.Event{Type: "identify", MessageID: next(), UserID: fmt.Sprintf("u%d", u),
				AnonymousID: fmt.Sprintf("v%d-%d", u, v), Traits: map[string]any{"score": v}, Timestamp: ts()})
		}
	}
	rigs := compareCacheModes(t, rdb, evs, 5)
	if m := testutil.ToFloat64(rigs["cache"].proc.m.scripts.WithLabelValues("fast_merge")); m < 100 {
		t.Errorf("only %v of 180 merges planned", m)
	}
}

// compareCacheModes runs events through a processor without a profile
// cache (every message runs apply.lua's full logic), one with the default
// cache and one with a cache of three profiles (evictions, so plans on
// missing profiles do not hold), in random batch sizes, and requires
// identical Redis state and identical published records.
func compareCacheModes(t *testing.T, rdb redis.UniversalClient, evs []schemas.Event, seed uint64) map[string]*rig {
	t.Helper()
	base := newRig(t, rdb)
	rigs := map[string]*rig{
		"full":  cacheRig(t, rdb, base, -1),
		"cache": cacheRig(t, rdb, base, 0),
		"tiny":  cacheRig(t, rdb, base, 3),
	}
	for _, g := range rigs {
		rng := rand.New(rand.NewPCG(seed, 7))
		for i := 0; i < len(evs); {
			n := 1 + rng.IntN(700) // batches across chunk boundaries
			recs := make([]*kgo.Record, 0, n)
			for _, e := range evs[i:min(i+n, len(evs))] {
				recs = append(recs, g.record(t, e))
			}
			if err := g.proc.Handle(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			i += n
		}
	}
	want := dumpNamespace(t, rdb, rigs["full"].store.ns)
	wantRecs := recordValues(rigs["full"].out)
	if len(want) < 100 || len(wantRecs) < 500 {
		t.Fatalf("workload too small: %d keys, %d records", len(want), len(wantRecs))
	}
	for _, name := range []string{"cache", "tiny"} {
		g := rigs[name]
		if got := dumpNamespace(t, rdb, g.store.ns); !slices.Equal(got, want) {
			t.Errorf("%s: state differs from apply.lua's:\n%s", name, firstDiff(want, got))
		}
		if got := recordValues(g.out); !slices.Equal(got, wantRecs) {
			t.Errorf("%s: records differ from apply.lua's:\n%s", name, firstDiff(wantRecs, got))
		}
	}
	if n := testutil.ToFloat64(rigs["full"].proc.m.scripts.WithLabelValues("fast")); n != 0 {
		t.Errorf("cache off but %v fast messages", n)
	}
	if n := testutil.ToFloat64(rigs["tiny"].proc.m.scripts.WithLabelValues("replanned")); n == 0 {
		t.Error("the tiny cache never replanned: evictions untested")
	}
	return rigs
}

// firstDiff shows where two sorted or ordered lists part.
func firstDiff(want, got []string) string {
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return fmt.Sprintf("at %d (of %d/%d):\nwant %s\ngot  %s", i, len(want), len(got), w, g)
		}
	}
	return "equal"
}

// TestStaleCacheIsRetried: two processors share a store; each caches the
// profile, then the other changes it. A plan built on the stale copy must
// not apply: it is retried through apply.lua and no write is lost.
func TestStaleCacheIsRetried(t *testing.T) {
	rdb := testenv.Redis(t)
	a := newRig(t, rdb)
	b := &rig{tenant: a.tenant, rdb: rdb, store: a.store, out: &capture{}, ts: a.ts}
	b.proc = NewProcessor(a.store, a.ts, schemas.NewTopics(""), b.out.produce, zerolog.Nop(), nil)

	a.apply(t, schemas.Event{Type: "identify", MessageID: "s1", UserID: "42", Traits: map[string]any{"plan": "free"}, Timestamp: at(1)})
	b.apply(t, schemas.Event{Type: "identify", MessageID: "s2", UserID: "42", Traits: map[string]any{"city": "Pune"}, Timestamp: at(2)})
	// a's copy lacks city and has the old token
	a.apply(t, schemas.Event{Type: "identify", MessageID: "s3", UserID: "42", Traits: map[string]any{"plan": "pro"}, Timestamp: at(3)},
		schemas.Event{Type: "track", MessageID: "s4", UserID: "42", Event: "Paid", Timestamp: at(4)})
	b.apply(t, schemas.Event{Type: "identify", MessageID: "s5", UserID: "42", Traits: map[string]any{"lang": "mr"}, Timestamp: at(5)})

	p := a.profile(t, "user_id:42")
	for k, v := range map[string]any{"plan": "pro", "city": "Pune", "lang": "mr"} {
		if p.Traits[k] != v {
			t.Errorf("trait %s = %v, want %v (traits %v)", k, p.Traits[k], v, p.Traits)
		}
	}
	if n := testutil.ToFloat64(a.proc.m.scripts.WithLabelValues("replanned")); n < 1 {
		t.Errorf("a's stale plan was not retried (retries %v)", n)
	}
	if n := testutil.ToFloat64(b.proc.m.scripts.WithLabelValues("replanned")); n < 1 {
		t.Errorf("b's stale plan was not retried (retries %v)", n)
	}
	// s3's plan (no message attached: the profile was confirmed) stopped
	// its call, so s4 waited and was sent again after s3
	if n := testutil.ToFloat64(a.proc.m.scripts.WithLabelValues("halted")); n < 2 {
		t.Errorf("a's call was not stopped at s3 (%v halted)", n)
	}
	// the update records of s3 carry the traits Redis holds, not a's stale copy
	ups := a.out.updates(t)
	last := ups[len(ups)-1]
	if last.Traits["city"] != "Pune" {
		t.Errorf("s4's record has traits %v", last.Traits)
	}
}

// TestFastPathRedeliveryRepublishes: a message applied through fast.lua
// and redelivered before its output was marked published republishes the
// same records (its stored output), and applies nothing twice.
func TestFastPathRedeliveryRepublishes(t *testing.T) {
	rdb := testenv.Redis(t)
	g := newRig(t, rdb)
	g.apply(t, schemas.Event{Type: "identify", MessageID: "r1", UserID: "7", Traits: map[string]any{"plan": "free"}, Timestamp: at(1)})
	crash := true
	g.proc.afterApply = func() error {
		if crash {
			crash = false
			return fmt.Errorf("crash")
		}
		return nil
	}
	ev := schemas.Event{Type: "track", MessageID: "r2", UserID: "7", Event: "Paid", Timestamp: at(2)}
	if err := g.proc.Handle(context.Background(), []*kgo.Record{g.record(t, ev)}); err == nil {
		t.Fatal("no crash")
	}
	if n := testutil.ToFloat64(g.proc.m.scripts.WithLabelValues("fast")); n < 1 {
		t.Fatalf("r2 did not take the fast path")
	}
	before := len(g.out.updates(t))
	g.apply(t, ev) // redelivery
	ups := g.out.updates(t)[before:]
	if len(ups) != 1 || ups[0].Type != schemas.ProfileUpdated || ups[0].Traits["plan"] != "free" || ups[0].Event == nil {
		t.Fatalf("redelivery published %+v", ups)
	}
	pe := g.events(t, ups[0].ProfileID)
	if paid := inTimeline(pe, "r2"); paid != 1 || pe.DailyCounts["Paid"][fixedNow.Format("2006-01-02")] != 1 {
		t.Errorf("Paid applied twice? timeline %d Paid, counts %v", paid, pe.DailyCounts)
	}
}

// TestHaltStopsOnlyItsTenant: in a batch mixing two tenants, a plan of one
// tenant that does not hold stops that tenant's later messages (resent in
// order) and not the other tenant's.
func TestHaltStopsOnlyItsTenant(t *testing.T) {
	rdb := testenv.Redis(t)
	a := newRig(t, rdb)
	b := &rig{tenant: a.tenant, rdb: rdb, store: a.store, out: &capture{}, ts: a.ts}
	b.proc = NewProcessor(a.store, a.ts, schemas.NewTopics(""), b.out.produce, zerolog.Nop(), nil)
	other := &rig{tenant: a.tenant + "-other", rdb: rdb, store: a.store, out: a.out, ts: a.ts, proc: a.proc}

	a.apply(t, schemas.Event{Type: "identify", MessageID: "h1", UserID: "42", Traits: map[string]any{"plan": "free"}, Timestamp: at(1)})
	other.apply(t, schemas.Event{Type: "identify", MessageID: "o1", UserID: "7", Traits: map[string]any{"plan": "free"}, Timestamp: at(1)})
	// b writes 42 behind a's back: a's cached copy is stale
	b.apply(t, schemas.Event{Type: "identify", MessageID: "h2", UserID: "42", Traits: map[string]any{"city": "Pune"}, Timestamp: at(2)})

	var recs []*kgo.Record
	for i := range 6 {
		recs = append(recs,
			a.record(t, schemas.Event{Type: "track", MessageID: fmt.Sprint("ha", i), UserID: "42", Event: "Paid", Timestamp: at(3 + i)}),
			other.record(t, schemas.Event{Type: "track", MessageID: fmt.Sprint("oa", i), UserID: "7", Event: "Paid", Timestamp: at(3 + i)}))
	}
	fastBefore := testutil.ToFloat64(a.proc.m.scripts.WithLabelValues("fast"))
	if err := a.proc.Handle(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(a.proc.m.scripts.WithLabelValues("halted")); n < 1 || n > 6 {
		t.Errorf("%v messages halted, want tenant %s's only (1 to 6)", n, a.tenant)
	}
	if n := testutil.ToFloat64(a.proc.m.scripts.WithLabelValues("fast")) - fastBefore; n < 6 {
		t.Errorf("only %v planned messages applied as planned: the other tenant's 6 should be", n)
	}
	ctx := context.Background()
	for _, c := range []struct {
		g   *rig
		ref string
	}{{a, "user_id:42"}, {other, "user_id:7"}} {
		p := c.g.profile(t, c.ref)
		ev, err := c.g.store.ProfileEvents(ctx, c.g.tenant, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := ev.DailyCounts["Paid"][fixedNow.Format("2006-01-02")]; n != 6 {
			t.Errorf("%s: %d Paid, want 6", c.g.tenant, n)
		}
		// newest first, in order: nothing overtook the stopped messages
		for i, e := range ev.Recent[:6] {
			if want := at(8 - i); !e.Timestamp.Equal(want) {
				t.Errorf("%s: timeline %d at %v, want %v", c.g.tenant, i, e.Timestamp, want)
			}
		}
	}
	if p := a.profile(t, "user_id:42"); p.Traits["city"] != "Pune" {
		t.Errorf("b's write lost: %v", p.Traits)
	}
}

// scriptPaths says how a rig's messages reached Redis (for test logs).
func scriptPaths(g *rig) string {
	var b strings.Builder
	for _, p := range []string{"fast", "fast_merge", "replanned", "halted", "full"} {
		fmt.Fprintf(&b, "%s %v ", p, testutil.ToFloat64(g.proc.m.scripts.WithLabelValues(p)))
	}
	return b.String()
}

// CachedProfileOf answers from the cache, normalising the value as a
// message's identifier is.
func TestCachedProfileOf(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	ctx := context.Background()
	rec := g.record(t, schemas.Event{Type: "identify", MessageID: "m-1", UserID: "u1", Traits: map[string]any{"email": "Asha@Example.com"}})
	if err := g.proc.Handle(ctx, []*kgo.Record{rec}); err != nil {
		t.Fatal(err)
	}
	pid, err := g.store.Resolve(ctx, g.tenant, "user_id:u1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ typ, value, want string }{
		{"user_id", "u1", pid},
		{"email", " asha@EXAMPLE.com", pid},
		{"user_id", "u2", ""},
		{"anonymous_id", "u1", ""},
	} {
		if got := g.proc.CachedProfileOf(g.tenant, c.typ, c.value); got != c.want {
			t.Errorf("%s %q: %q, want %q", c.typ, c.value, got, c.want)
		}
	}
	if got := g.proc.CachedProfileOf("no-such-tenant", "user_id", "u1"); got != "" {
		t.Errorf("unknown tenant: %q", got)
	}
}

// TestLeanPlansStepAsideForTombstones: a processor that believes its
// tenant has no tombstones sends known people's simple plans lean
// (without what only the tombstone checks read); when another processor
// deleted someone meanwhile, the lean plan does not hold, the message is
// planned again in full and applied once, and the processor stops sending
// lean plans for the tenant.
func TestLeanPlansStepAsideForTombstones(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	other := NewProcessor(g.store, g.ts, schemas.NewTopics(""), g.out.produce, zerolog.Nop(), nil)
	ctx := context.Background()
	handle := func(p *Processor, e schemas.Event) {
		t.Helper()
		if err := p.Handle(ctx, []*kgo.Record{g.record(t, e)}); err != nil {
			t.Fatal(err)
		}
	}
	halted := func() float64 { return testutil.ToFloat64(g.proc.m.scripts.WithLabelValues("halted")) }
	handle(g.proc, schemas.Event{Type: "identify", MessageID: "i7", UserID: "7", Timestamp: at(1)})
	handle(g.proc, schemas.Event{Type: "track", MessageID: "t1", UserID: "7", Event: "Paid", Timestamp: at(2)})
	if halted() != 0 {
		t.Fatalf("%v halted before any deletion", halted())
	}
	handle(other, schemas.Event{Type: "identify", MessageID: "i9", UserID: "9", Timestamp: at(3)})
	handle(other, schemas.Event{Type: "delete", MessageID: "d9", UserID: "9", Timestamp: at(4)})
	handle(g.proc, schemas.Event{Type: "track", MessageID: "t2", UserID: "7", Event: "Paid", Timestamp: at(5)})
	if halted() != 1 {
		t.Fatalf("%v plans halted after the deletion, want the one lean plan", halted())
	}
	// (the chunks after a halt send every plan with its message: a lean
	// plan sent again would not halt but fall back to the full logic)
	replanned := func() float64 { return testutil.ToFloat64(g.proc.m.scripts.WithLabelValues("replanned")) }
	before := replanned()
	handle(g.proc, schemas.Event{Type: "track", MessageID: "t3", UserID: "7", Event: "Paid", Timestamp: at(6)})
	if halted() != 1 || replanned() != before {
		t.Fatalf("%v plans halted, %v applied by the full logic instead: a lean plan was sent again", halted(), replanned()-before)
	}
	if n := g.events(t, "user_id:7").DailyCounts["Paid"][fixedNow.Format("2006-01-02")]; n != 3 {
		t.Fatalf("Paid counted %d times, want 3", n)
	}
}
