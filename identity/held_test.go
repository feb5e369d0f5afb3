package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// The seen filter never forgets a messageId (no false negatives), and
// rarely claims one it never met.
func TestSeenFilter(t *testing.T) {
	f := newSeenFilter(10000)
	early := 0
	for i := range 10000 {
		if f.testAndAdd("t", fmt.Sprint("m-", i)) {
			early++ // a false positive: about 0.04 % at the end
		}
	}
	if early > 20 {
		t.Fatalf("%d of 10,000 new messageIds seen before they were added", early)
	}
	for i := range 10000 {
		if !f.testAndAdd("t", fmt.Sprint("m-", i)) {
			t.Fatalf("m-%d forgotten", i)
		}
	}
	wrong := 0
	for i := range 10000 {
		if f.testAndAdd("other", fmt.Sprint("m-", i)) {
			wrong++
		}
	}
	if wrong > 100 {
		t.Fatalf("%d of 10,000 other tenant's messageIds seen", wrong)
	}
}

// Held writes of one profile merge: a field's last write wins (set or
// delete), the token is the last one, the timeline keeps the newest
// entries in order and at least cap of them.
func TestHeldWritesMerge(t *testing.T) {
	h := newHeldWrites(100)
	prof := &cachedProfile{tenant: "t", pid: "p1"}
	plan := func(tok, tl string, ops ...fieldOp) *fastPlan {
		f := &fastPlan{pid: "p1", prof: prof, hold: true, token: tok, timeline: tl, cap: 3}
		for _, o := range ops {
			f.ops.put(o.field, o.val, o.del)
		}
		return f
	}
	h.add("t", plan("v1", "e1", fieldOp{field: "t:a", val: "1"}, fieldOp{field: "t:b", val: "2"}))
	h.add("t", plan("v2", "e2", fieldOp{field: "t:a", del: true}))
	h.add("t", plan("v3", "", fieldOp{field: "t:b", val: "3"}))
	for i := range 10 {
		h.add("t", plan(fmt.Sprint("v", 4+i), fmt.Sprint("x", i)))
	}
	hps := h.take([]string{cacheKey("t", "p1")})
	if len(hps) != 1 {
		t.Fatalf("took %d profiles", len(hps))
	}
	hp := hps[0]
	if hp.n != 13 || hp.token != "v13" {
		t.Fatalf("n %d token %s", hp.n, hp.token)
	}
	if f := hp.fields["t:a"]; !f.del {
		t.Fatalf("t:a %+v, want deleted", f)
	}
	if f := hp.fields["t:b"]; f.del || f.val != "3" {
		t.Fatalf("t:b %+v, want 3", f)
	}
	tl := hp.timeline
	if len(tl) < 3 || tl[len(tl)-1] != "x9" || tl[len(tl)-2] != "x8" || tl[len(tl)-3] != "x7" {
		t.Fatalf("timeline %v", tl)
	}
	if h.over() || len(h.takeAll()) != 0 {
		t.Fatal("something is still held")
	}
}

// TestHeldWritesMatchFullScript: the random workload of the profile cache
// tests (redeliveries, limits, aliases, deletes, tags, merges) through a
// processor that holds writes, flushing whenever more than two profiles
// are held after a batch, leaves the same Redis state and publishes the
// same records as apply.lua alone (the last seed with deletions, after
// which nothing of the tenant is held). Timelines are capped at 4 (the scripts
// then trim exactly at the cap, as held timelines are).
func TestHeldWritesMatchFullScript(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			for _, seed := range []uint64{11, 12, 13} {
				evs := randomWorkload(rand.New(rand.NewPCG(seed, 1)), 1500)
				if seed != 13 {
					// a deletion stops holding for its tenant: without
					// them most messages are held
					evs = slices.DeleteFunc(evs, func(e schemas.Event) bool { return e.Type == schemas.TypeDelete })
				}
				base := newRig(t, rdb)
				mk := func(cacheSize int) *rig {
					ns := namespace(t, rdb)
					store := NewStore(rdb, ns, WithClock(func() time.Time { return fixedNow }), WithTenants(base.ts),
						WithConfig(Config{ProfileCacheSize: cacheSize, TimelineCap: 4}))
					out := &capture{}
					proc := NewProcessor(store, base.ts, schemas.NewTopics(""), out.produce, zerolog.Nop(), nil)
					proc.SkipStoredOutputs()
					return &rig{tenant: base.tenant, rdb: rdb, store: store, proc: proc, out: out, ts: base.ts}
				}
				full, held := mk(-1), mk(0)
				held.proc.HoldWrites(int64(len(evs)))
				held.proc.cache.held.maxProfiles = 2
				rng := rand.New(rand.NewPCG(seed, 7))
				for i := 0; i < len(evs); {
					n := 1 + rng.IntN(400)
					for _, g := range []*rig{full, held} {
						recs := make([]*kgo.Record, 0, n)
						for _, e := range evs[i:min(i+n, len(evs))] {
							recs = append(recs, g.record(t, e))
						}
						if err := g.proc.Handle(context.Background(), recs); err != nil {
							t.Fatal(err)
						}
					}
					if err := held.proc.FlushHeldOver(context.Background()); err != nil {
						t.Fatal(err)
					}
					i += n
				}
				if err := held.proc.FlushHeld(context.Background()); err != nil {
					t.Fatal(err)
				}
				if n := held.proc.HeldMessages(); seed != 13 && n < int64(len(evs))/5 {
					t.Fatalf("seed %d: held %d of %d messages", seed, n, len(evs))
				}
				want := dumpNamespace(t, rdb, full.store.ns)
				if got := dumpNamespace(t, rdb, held.store.ns); !slices.Equal(got, want) {
					t.Fatalf("seed %d: state differs from apply.lua's:\n%s", seed, firstDiff(want, got))
				}
				if want, got := recordValues(full.out), recordValues(held.out); !slices.Equal(got, want) {
					t.Fatalf("seed %d: records differ from apply.lua's:\n%s", seed, firstDiff(want, got))
				}
				t.Logf("seed %d: held %d of %d messages", seed, held.proc.HeldMessages(), len(evs))
			}
		})
	}
}

// TestConfirmWaitsForLaterPlans: a plan that created a profile and applied
// as planned does not confirm the profile while later plans built on it
// are still in flight: they rest on their own speculation (a redelivered
// message among them is a duplicate in Redis and changes nothing there),
// and a plan on a confirmed profile may be held with no check at all.
// The last plan confirms it.
func TestConfirmWaitsForLaterPlans(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	ctx := context.Background()
	now := g.proc.clock()
	chunk := func(mid string) *chunk {
		c := g.proc.prepareChunk([]*kgo.Record{g.record(t, schemas.Event{Type: "page", MessageID: mid, AnonymousID: "v1", Name: "Home"})}, now)
		if len(c.inputs) != 1 || c.inputs[0].fast == nil {
			t.Fatalf("%s was not planned", mid)
		}
		return c
	}
	first, second := chunk("c1"), chunk("c2")
	prof := second.inputs[0].fast.prof
	if first.inputs[0].fast.prof != prof || !prof.unconfirmed {
		t.Fatal("the plans do not share one unconfirmed profile")
	}
	if _, err := g.proc.apply(ctx, first, now); err != nil {
		t.Fatal(err)
	}
	if !prof.unconfirmed {
		t.Fatal("confirmed by the first plan while the second is in flight")
	}
	if _, err := g.proc.apply(ctx, second, now); err != nil {
		t.Fatal(err)
	}
	if prof.unconfirmed {
		t.Fatal("still unconfirmed after its last plan applied")
	}
}

// TestNoHoldWhileASentPlanIsInFlight: a plan that did not hold is applied
// by apply.lua, whose reply refills the profile's cache entry; a later
// plan on the same profile, sent before that reply, is still in flight and
// will change the profile again. A message planned meanwhile must not be
// held on the refilled entry (its writes would overwrite that change):
// the event counter stays exact.
func TestNoHoldWhileASentPlanIsInFlight(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	ctx := context.Background()
	page := func(mid string) *kgo.Record {
		return g.record(t, schemas.Event{Type: "page", MessageID: mid, UserID: "u1", Name: "Home"})
	}
	if err := g.proc.Handle(ctx, []*kgo.Record{page("seed")}); err != nil {
		t.Fatal(err)
	}
	g.proc.HoldWrites(100)
	h := g.proc.cache.held
	now := g.proc.clock()
	plan := func(mid string) *chunk {
		c := g.proc.prepareChunk([]*kgo.Record{page(mid)}, now)
		if len(c.inputs) != 1 || c.inputs[0].fast == nil {
			t.Fatalf("%s was not planned", mid)
		}
		return c
	}
	// the first two are sent (as if a deletion had been seen), and the
	// first one's plan cannot hold: Redis has another version of the profile
	h.noHold[g.tenant] = true
	first, second := plan("p1"), plan("p2")
	h.noHold[g.tenant] = false
	pid := first.inputs[0].fast.pid
	if err := g.rdb.HSet(ctx, g.store.keyProfile(g.tenant, pid), "_v", "elsewhere").Err(); err != nil {
		t.Fatal(err)
	}
	res, err := g.proc.apply(ctx, first, now)
	if err != nil || !res[0].Replanned {
		t.Fatalf("first: %+v %v, want it replanned", res, err)
	}
	third := plan("p3") // the second is in flight
	if third.inputs[0].fast.hold {
		t.Fatal("held while a sent plan on its profile awaits its reply")
	}
	for _, c := range []*chunk{second, third} {
		if _, err := g.proc.apply(ctx, c, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.proc.FlushHeld(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := g.rdb.HGet(ctx, g.store.keyProfile(g.tenant, pid), "c:Home|"+fixedNow.Format("2006-01-02")).Result()
	if err != nil || n != "4" {
		t.Fatalf("count %q (%v), want 4", n, err)
	}
}
