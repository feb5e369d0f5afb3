package segmenter_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
)

// A birthday segment in Kolkata (UTC+05:30) enters at local midnight, i.e.
// 18:30 UTC the day before, and exits 24 hours later.
func TestAnniversaryInTenantTimezone(t *testing.T) {
	h := newHarness(t, opts{timezone: "Asia/Kolkata"})
	seg := h.segment("Birthday", `{"trait":"birthday","op":"anniversary"}`)
	h.clock.Set(time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC))
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"birthday": "1990-03-16"})))
	if len(h.members(seg)) != 0 {
		t.Fatal("entered a day early")
	}
	midnight := time.Date(2025, 3, 15, 18, 30, 0, 0, time.UTC)
	h.clock.Set(midnight.Add(-time.Millisecond))
	h.fireTimers()
	if len(h.members(seg)) != 0 {
		t.Fatal("entered before local midnight")
	}
	h.clock.Set(midnight)
	h.fireTimers()
	if len(h.members(seg)) != 1 {
		t.Fatal("did not enter at local midnight")
	}
	h.clock.Set(midnight.Add(24 * time.Hour))
	h.fireTimers()
	if len(h.members(seg)) != 0 {
		t.Fatal("did not exit at the next local midnight")
	}
	got := changesOf(h.sink.all(), seg, "p1")
	if !reflect.DeepEqual(got, []string{"entered:time", "exited:time"}) {
		t.Fatalf("changes %v", got)
	}
	if ts := h.sink.all()[0].Timestamp; !ts.Equal(midnight) {
		t.Fatalf("entered at %s", ts)
	}
}

// Backfill seeds event-condition state from the identity store's timeline
// and per-day counts; live events then add to it.
func TestBackfillSeedsEventConditions(t *testing.T) {
	h := newHarness(t, opts{})
	h.src.put(schemas.Profile{ID: "p1", Tenant: h.tenant, Traits: map[string]any{}})
	h.src.put(schemas.Profile{ID: "p2", Tenant: h.tenant, Traits: map[string]any{}})
	// p1: two big orders in the timeline. p2: one in the timeline and two
	// older ones known only from the per-day counts.
	h.src.addEvent("p1", schemas.EventSummary{Name: "Order Completed", MessageID: "a", Properties: map[string]any{"revenue": 150.0}, Timestamp: t0.Add(-48 * time.Hour)})
	h.src.addEvent("p1", schemas.EventSummary{Name: "Order Completed", MessageID: "b", Properties: map[string]any{"revenue": 250.0}, Timestamp: t0.Add(-24 * time.Hour)})
	h.src.addEvent("p2", schemas.EventSummary{Name: "Order Completed", MessageID: "c", Timestamp: t0.Add(-time.Hour)})
	h.src.mu.Lock()
	ev := h.src.events["p2"]
	ev.DailyCounts = map[string]map[string]int64{"Order Completed": {"2025-03-10": 2, "2025-03-15": 1}}
	h.src.events["p2"] = ev
	h.src.mu.Unlock()
	stop := h.run()
	defer stop()
	big := h.segment("Big spenders", `{"event":"Order Completed","where":[{"property":"revenue","op":"gt","value":100}],"count":{"op":"gte","value":2},"within":{"value":7,"unit":"days"}}`)
	three := h.segment("Three orders", `{"event":"Order Completed","count":{"op":"gte","value":3},"within":{"value":30,"unit":"days"}}`)
	h.waitBackfill(big, 1)
	h.waitBackfill(three, 1)
	if got := h.members(big); !reflect.DeepEqual(got, []string{"p1"}) {
		t.Fatalf("big spenders %v", got)
	}
	if got := h.members(three); !reflect.DeepEqual(got, []string{"p2"}) {
		t.Fatalf("three orders %v", got)
	}
	// A live order (already in the timeline would be deduplicated) makes p1
	// a three-order profile.
	h.handle(h.rec(eventUpdate("p1", "Order Completed", t0, map[string]any{"revenue": 10.0}, nil)))
	if got := h.members(three); !reflect.DeepEqual(got, []string{"p1", "p2"}) {
		t.Fatalf("after a live order %v", got)
	}
	// Redelivering the seeded event (same messageId) does not count twice.
	h.handle(h.rec(schemas.ProfileUpdate{ProfileID: "p1", Event: &schemas.EventSummary{Name: "Order Completed", MessageID: "b", Properties: map[string]any{"revenue": 250.0}, Timestamp: t0.Add(-24 * time.Hour)}}))
	checkAlternation(t, h.sink.all())
	// The big spender exits when the older big order leaves the 7-day window.
	h.clock.Set(t0.Add(5 * 24 * time.Hour))
	h.fireTimers()
	if len(h.members(big)) != 0 {
		t.Fatal("big spender did not exit when an order aged out")
	}
}

// A profile has a timer exactly while its state has a deadline: set when
// it enters a window, kept through unrelated updates, removed when it
// exits by time.
func TestTimerFollowsTheDeadline(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("Recent buyers", `{"event":"Order Completed","within":{"value":1,"unit":"hours"}}`)
	timers := func() []redis.Z {
		z, err := h.rdb.ZRangeWithScores(context.Background(), h.ns+":{"+h.tenant+"}:seg:timers", 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	h.handle(h.rec(eventUpdate("p1", "Order Completed", t0, nil, nil)))
	want := []redis.Z{{Score: float64(t0.Add(time.Hour).UnixMilli()), Member: "p1"}}
	if got := timers(); len(h.members(seg)) != 1 || !reflect.DeepEqual(got, want) {
		t.Fatalf("after the order: members %v, timers %v", h.members(seg), got)
	}
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"country": "IN"})))
	h.handle(h.rec(traitsUpdate("p2", map[string]any{"country": "IN"})))
	if got := timers(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after unrelated updates: timers %v", got)
	}
	h.clock.Set(t0.Add(time.Hour))
	h.fireTimers()
	if got := timers(); len(h.members(seg)) != 0 || len(got) != 0 {
		t.Fatalf("after the window: members %v, timers %v", h.members(seg), got)
	}
}

// An event older than the stamps a counted window keeps changes nothing:
// its stamp is added, then trimmed. The kept stamps, and so the deadline,
// are still the newest ones, also when the stamps' array had room for the
// insertion (several events of one profile in one batch).
func TestOlderEventLeavesTheNewestStamps(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("Regulars", `{"event":"Visit","count":{"op":"gte","value":2},"within":{"value":1,"unit":"days"}}`)
	h.clock.Set(t0.Add(10 * time.Second))
	var recs []*kgo.Record
	for _, s := range []int{1, 2, 3, 4, 5, 0} {
		recs = append(recs, h.rec(eventUpdate("p1", "Visit", t0.Add(time.Duration(s)*time.Second), nil, nil)))
	}
	h.handle(recs...)
	z, err := h.rdb.ZRangeWithScores(context.Background(), h.ns+":{"+h.tenant+"}:seg:timers", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	// the newest three stamps are kept (seconds 3, 4, 5); the next time the
	// count changes is when second 3 is a day old (with the stamp of second
	// 0 kept instead, it would be second 0)
	want := []redis.Z{{Score: float64(t0.Add(3*time.Second + 24*time.Hour).UnixMilli()), Member: "p1"}}
	if len(h.members(seg)) != 1 || !reflect.DeepEqual(z, want) {
		t.Fatalf("members %v, timers %v, want %v", h.members(seg), z, want)
	}
}
