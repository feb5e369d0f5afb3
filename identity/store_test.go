package identity

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestStoreSuite runs the store's behaviour on real redis-server and on
// miniredis (which `user360 dev` uses).
func TestStoreSuite(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			ns := namespace(t, rdb) // one namespace, a tenant per case
			newRig := func(t *testing.T, rdb redis.UniversalClient) *rig { return newRigNS(t, rdb, ns) }
			t.Run("NewThenKnown", func(t *testing.T) { suiteNewThenKnown(t, newRig(t, rdb)) })
			t.Run("MergeAndLineage", func(t *testing.T) { suiteMerge(t, newRig(t, rdb)) })
			t.Run("LastWriteWins", func(t *testing.T) { suiteLWW(t, newRig(t, rdb)) })
			t.Run("Idempotent", func(t *testing.T) { suiteIdempotent(t, newRig(t, rdb)) })
			t.Run("Delete", func(t *testing.T) { suiteDelete(t, newRig(t, rdb)) })
			t.Run("Scan", func(t *testing.T) { suiteScan(t, newRig(t, rdb)) })
			t.Run("TimelineCapAndCounters", func(t *testing.T) { suiteTimeline(t, newRig(t, rdb)) })
			t.Run("Replace", func(t *testing.T) { suiteReplace(t, newRig(t, rdb)) })
		})
	}
}

func suiteNewThenKnown(t *testing.T, g *rig) {
	g.apply(t, schemas.Event{Type: "identify", MessageID: "m1", UserID: "42", Traits: map[string]any{"email": " Asha@Example.COM ", "firstName": "Asha"}})
	g.apply(t, schemas.Event{Type: "track", MessageID: "m2", UserID: "42", Event: "Order Completed", Properties: map[string]any{"revenue": 12.5}, Timestamp: at(1)})
	p := g.profile(t, "email:asha@example.com")
	if p.UserID != "42" || !hasIdentity(p, "email", "asha@example.com") || p.Traits["firstName"] != "Asha" {
		t.Fatalf("profile = %+v", p)
	}
	if p.TraitMeta["firstName"].Type != "string" || !p.TraitMeta["firstName"].UpdatedAt.Equal(fixedNow) {
		t.Fatalf("trait meta = %+v", p.TraitMeta)
	}
	if !p.CreatedAt.Equal(fixedNow) || !p.LastSeenAt.Equal(at(1)) {
		t.Fatalf("times = %v %v", p.CreatedAt, p.LastSeenAt)
	}
	ev, err := g.store.ProfileEvents(context.Background(), g.tenant, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Recent) != 2 || ev.Recent[0].Name != "Order Completed" || ev.DailyCounts["Order Completed"]["2026-11-28"] != 1 {
		t.Fatalf("events = %+v", ev)
	}
	ups := g.out.updates(t)
	kinds := map[string]int{}
	for _, u := range ups {
		kinds[u.Type]++
		if u.ProfileID != p.ID {
			t.Fatalf("update for %s, want %s", u.ProfileID, p.ID)
		}
	}
	if kinds[schemas.UserCreated] != 1 || kinds[schemas.ProfileUpdated] != 2 {
		t.Fatalf("update kinds = %v", kinds)
	}
	if _, err := g.store.Resolve(context.Background(), g.tenant, "email:nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown ref: %v", err)
	}
}

func suiteMerge(t *testing.T, g *rig) {
	g.apply(t,
		schemas.Event{Type: "page", MessageID: "a1", AnonymousID: "anon-1", Name: "Home", Timestamp: at(0)},
		schemas.Event{Type: "identify", MessageID: "b1", UserID: "7", Traits: map[string]any{"tags": []any{"vip"}}, Timestamp: at(1)},
	)
	anon := g.profile(t, "anonymous_id:anon-1").ID
	user := g.profile(t, "user_id:7").ID
	if anon == user {
		t.Fatal("two unlinked identifiers share a profile")
	}
	g.apply(t, schemas.Event{Type: "alias", MessageID: "c1", UserID: "7", PreviousID: "anon-1", Timestamp: at(2)})
	p := g.profile(t, "user_id:7")
	if p.ID != anon {
		t.Fatalf("survivor %s, want the oldest %s", p.ID, anon)
	}
	if len(p.MergedFrom) != 1 || p.MergedFrom[0] != user {
		t.Fatalf("mergedFrom = %v", p.MergedFrom)
	}
	if got, err := g.store.Resolve(context.Background(), g.tenant, user); err != nil || got != anon {
		t.Fatalf("lost id resolves to %q, %v", got, err)
	}
	ms, err := g.store.Merges(context.Background(), g.tenant, anon)
	if err != nil || len(ms) != 1 || ms[0].MessageID != "c1" || ms[0].Absorbed[0] != user {
		t.Fatalf("merges = %+v, %v", ms, err)
	}
	ev, _ := g.store.ProfileEvents(context.Background(), g.tenant, anon)
	if len(ev.Recent) != 3 {
		t.Fatalf("timeline after merge has %d entries, want 3", len(ev.Recent))
	}
	var merged int
	for _, u := range g.out.updates(t) {
		if u.Type == schemas.ProfileMerged {
			merged++
			if u.Merge.Survivor != anon || u.Merge.Absorbed[0] != user {
				t.Fatalf("merge record = %+v", u.Merge)
			}
		}
	}
	if merged != 1 {
		t.Fatalf("%d profile.merged records, want 1", merged)
	}
}

func suiteLWW(t *testing.T, g *rig) {
	// The later event arrives first: it must win.
	g.apply(t, schemas.Event{Type: "identify", MessageID: "late", UserID: "9", Traits: map[string]any{"city": "Pune"}, Timestamp: at(10)})
	g.apply(t, schemas.Event{Type: "identify", MessageID: "early", UserID: "9", Traits: map[string]any{"city": "Delhi", "country": "IN"}, Timestamp: at(5)})
	p := g.profile(t, "user_id:9")
	if p.Traits["city"] != "Pune" || p.Traits["country"] != "IN" {
		t.Fatalf("traits = %v", p.Traits)
	}
	// Same timestamp: the greater messageId wins, whatever the order.
	g.apply(t, schemas.Event{Type: "identify", MessageID: "zz", UserID: "9", Traits: map[string]any{"city": "Goa"}, Timestamp: at(20)})
	g.apply(t, schemas.Event{Type: "identify", MessageID: "aa", UserID: "9", Traits: map[string]any{"city": "Agra"}, Timestamp: at(20)})
	if p := g.profile(t, "user_id:9"); p.Traits["city"] != "Goa" {
		t.Fatalf("tie: city = %v", p.Traits["city"])
	}
}

func suiteIdempotent(t *testing.T, g *rig) {
	e := schemas.Event{Type: "track", MessageID: "dup-1", UserID: "5", Event: "Clicked"}
	// Crash between the Redis write and the produce: nothing published.
	crash := errors.New("crash")
	g.proc.afterApply = func() error { return crash }
	if err := g.proc.Handle(context.Background(), []*kgo.Record{g.record(t, e)}); !errors.Is(err, crash) {
		t.Fatalf("Handle = %v, want the crash", err)
	}
	if n := len(g.out.updates(t)); n != 0 {
		t.Fatalf("%d records published before the crash", n)
	}
	// Redelivery: the dedup hit republishes the stored output.
	g.proc.afterApply = nil
	g.apply(t, e)
	first := g.out.updates(t)
	if len(first) != 2 || first[0].Type != schemas.UserCreated || first[1].Type != schemas.ProfileUpdated {
		t.Fatalf("republished %+v", first)
	}
	// Redelivery after publishing: nothing more.
	g.out.recs = nil
	g.apply(t, e)
	if n := len(g.out.updates(t)); n != 0 {
		t.Fatalf("redelivery after publish produced %d records", n)
	}
	ev, _ := g.store.ProfileEvents(context.Background(), g.tenant, g.profile(t, "user_id:5").ID)
	if ev.DailyCounts["Clicked"]["2026-11-28"] != 1 || len(ev.Recent) != 1 {
		t.Fatalf("applied twice: %+v", ev)
	}
	// Deterministic ids: the same message on a twin store yields the same
	// record ids.
	twin := newRigNS(t, g.rdb, g.store.ns)
	twin.tenant = g.tenant
	twin.store = NewStore(g.rdb, g.store.ns+"twin", WithClock(g.store.clock), WithTenants(g.ts))
	t.Cleanup(func() { testenv.CleanPrefix(g.rdb, g.store.ns+"twin") })
	twin.proc = NewProcessor(twin.store, g.ts, schemas.NewTopics(""), twin.out.produce, zerolog.Nop(), nil)
	twin.apply(t, e)
	again := twin.out.updates(t)
	for i := range first {
		if again[i].MessageID != first[i].MessageID {
			t.Fatalf("record %d id %s, want %s", i, again[i].MessageID, first[i].MessageID)
		}
	}
}

func suiteDelete(t *testing.T, g *rig) {
	g.apply(t, schemas.Event{Type: "identify", MessageID: "d1", UserID: "11", Traits: map[string]any{"email": "del@example.com"}, Timestamp: at(0)})
	pid := g.profile(t, "user_id:11").ID
	g.apply(t, schemas.Event{Type: "delete", MessageID: "d2", UserID: "11", Timestamp: at(5)})
	for _, ref := range []string{"user_id:11", "email:del@example.com", pid} {
		if _, err := g.store.Resolve(context.Background(), g.tenant, ref); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s after delete: %v", ref, err)
		}
	}
	var deleted bool
	for _, u := range g.out.updates(t) {
		if u.Type == schemas.UserDeleted && u.ProfileID == pid && u.UserID == "11" {
			deleted = true
		}
	}
	if !deleted {
		t.Fatal("no user.deleted record")
	}
	// A message in flight from before the deletion does not bring it back.
	g.apply(t, schemas.Event{Type: "track", MessageID: "d3", Event: "Late", Traits: nil, Context: map[string]any{"traits": map[string]any{"email": "del@example.com"}}, AnonymousID: "x-1", Timestamp: at(4)})
	if _, err := g.store.Resolve(context.Background(), g.tenant, "email:del@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old message resurrected the profile: %v", err)
	}
	// A newer message creates a new person.
	g.apply(t, schemas.Event{Type: "identify", MessageID: "d4", UserID: "11", Timestamp: at(6)})
	if p := g.profile(t, "user_id:11"); p.ID == pid {
		t.Fatal("new profile reused the deleted id")
	}
}

func suiteScan(t *testing.T, g *rig) {
	var events []schemas.Event
	for i := range 25 {
		// created newest first by event time: listed in that order reversed
		events = append(events, schemas.Event{Type: "identify", MessageID: "s" + itoa(i), UserID: "u" + itoa(i),
			Timestamp: fixedNow.Add(-time.Duration(i) * time.Second)})
	}
	g.apply(t, events...)
	seen := map[string]bool{}
	var order []string
	cursor := ""
	for {
		ps, next, err := g.store.ScanProfiles(context.Background(), g.tenant, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if seen[p.ID] {
				t.Fatalf("%s returned twice", p.ID)
			}
			seen[p.ID] = true
			order = append(order, p.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 25 {
		t.Fatalf("scan returned %d profiles, want 25", len(seen))
	}
	for k, pid := range order {
		if want := g.profile(t, "user_id:u"+itoa(24-k)).ID; pid != want {
			t.Fatalf("profile %d of the scan is %s, want u%d's %s (creation order)", k, pid, 24-k, want)
		}
	}
	if _, _, err := g.store.ScanProfiles(context.Background(), g.tenant, "soon:p1", 7); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	ids := []string{g.profile(t, "user_id:u3").ID, "nope", g.profile(t, "user_id:u1").ID}
	ps, err := g.store.GetProfiles(context.Background(), g.tenant, ids)
	if err != nil || len(ps) != 2 || ps[0].ID != ids[0] || ps[1].ID != ids[2] {
		t.Fatalf("GetProfiles = %v, %v", ps, err)
	}
}

func suiteTimeline(t *testing.T, g *rig) {
	g.store.cfg.TimelineCap = 5
	var events []schemas.Event
	for i := range 12 {
		events = append(events, schemas.Event{Type: "track", MessageID: "t" + itoa(i), UserID: "tl", Event: "Ping", Timestamp: at(i)})
	}
	// one event outside the 90-day lookback is kept in the timeline order
	// but not counted
	events = append(events, schemas.Event{Type: "track", MessageID: "old", UserID: "tl", Event: "Ping", Timestamp: fixedNow.AddDate(0, 0, -200)})
	g.apply(t, events...)
	pid := g.profile(t, "user_id:tl").ID
	ev, err := g.store.ProfileEvents(context.Background(), g.tenant, pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Recent) != 5 {
		t.Fatalf("timeline has %d entries, want 5", len(ev.Recent))
	}
	if ev.DailyCounts["Ping"]["2026-11-28"] != 12 || len(ev.DailyCounts["Ping"]) != 1 {
		t.Fatalf("counts = %v", ev.DailyCounts)
	}
}

func suiteReplace(t *testing.T, g *rig) {
	g.apply(t, schemas.Event{Type: "identify", MessageID: "r1", UserID: "r", Traits: map[string]any{"city": "Pune", "plan": "pro"}, Timestamp: at(0)})
	g.apply(t, schemas.Event{Type: "identify", MessageID: "r2", UserID: "r", Traits: map[string]any{"plan": "free"}, Context: map[string]any{ctxReplace: true}, Timestamp: at(1)})
	p := g.profile(t, "user_id:r")
	if _, has := p.Traits["city"]; has || p.Traits["plan"] != "free" || p.Traits["userId"] != "r" {
		t.Fatalf("replace left %v", p.Traits)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
