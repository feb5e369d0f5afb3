package segmenter_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

func TestTraitSegmentEntersAndExits(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			h := newHarness(t, opts{redis: b.Client})
			seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
			other := h.segment("Pro", `{"trait":"plan","op":"eq","value":"pro"}`)
			h.handle(h.rec(traitsUpdate("p1", map[string]any{"country": "IN"})))
			h.handle(h.rec(traitsUpdate("p2", map[string]any{"country": "US"})))
			if got := h.members(seg); !reflect.DeepEqual(got, []string{"p1"}) {
				t.Fatalf("members %v", got)
			}
			h.handle(h.rec(traitsUpdate("p1", map[string]any{"country": "FR"}, "country")))
			h.handle(h.rec(traitsUpdate("p2", map[string]any{"country": "IN"}, "country")))
			cs := h.sink.all()
			if got := changesOf(cs, seg, "p1"); !reflect.DeepEqual(got, []string{"entered:event", "exited:event"}) {
				t.Fatalf("p1 changes %v", got)
			}
			if got := changesOf(cs, seg, "p2"); !reflect.DeepEqual(got, []string{"entered:event"}) {
				t.Fatalf("p2 changes %v", got)
			}
			if len(changesOf(cs, other, "p1")) != 0 {
				t.Fatal("unrelated segment changed")
			}
			c := cs[0]
			if c.SegmentName != "India" || c.Tenant != h.tenant || c.UserID != "" && c.UserID != "u-p1" || len(c.Identities) != 1 || !c.Timestamp.Equal(t0) {
				t.Fatalf("change fields: %+v", c)
			}
			if c.MessageID != segmenter.MessageID(h.tenant, seg, "p1", 1) {
				t.Fatal("messageId is not the deterministic one")
			}
			got, err := h.svc.ProfileSegments(context.Background(), h.tenant, "p2")
			if err != nil || !reflect.DeepEqual(got, []string{seg}) {
				t.Fatalf("ProfileSegments %v %v", got, err)
			}
			if _, _, err := h.svc.ScanMembers(context.Background(), h.tenant, "nope", "", 10); !errors.Is(err, segmenter.ErrSegmentNotFound) {
				t.Fatalf("unknown segment: %v", err)
			}
			checkAlternation(t, cs)
		})
	}
}

func TestEventCountWithinWindowExitsAtTheRightSecond(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			h := newHarness(t, opts{redis: b.Client})
			seg := h.segment("Buyers", `{"event":"Order Completed","where":[{"property":"revenue","op":"gt","value":100}],"count":{"op":"gte","value":2},"within":{"value":30,"unit":"seconds"}}`)
			h.handle(h.rec(eventUpdate("p1", "Order Completed", t0, map[string]any{"revenue": 150.0}, nil)))
			h.handle(h.rec(eventUpdate("p1", "Order Completed", t0.Add(time.Second), map[string]any{"revenue": 50.0}, nil))) // does not match
			if len(h.members(seg)) != 0 {
				t.Fatal("entered after one matching order")
			}
			h.clock.Set(t0.Add(10 * time.Second))
			h.handle(h.rec(eventUpdate("p1", "Order Completed", t0.Add(10*time.Second), map[string]any{"revenue": 200.0}, nil)))
			if len(h.members(seg)) != 1 {
				t.Fatal("did not enter after two matching orders")
			}
			// The first order leaves the window at t0+30s exactly.
			h.clock.Set(t0.Add(30*time.Second - time.Millisecond))
			h.fireTimers()
			if len(h.members(seg)) != 1 {
				t.Fatal("exited early")
			}
			h.clock.Set(t0.Add(30 * time.Second))
			h.fireTimers()
			if len(h.members(seg)) != 0 {
				t.Fatal("did not exit when the window expired")
			}
			cs := h.sink.all()
			got := changesOf(cs, seg, "p1")
			if !reflect.DeepEqual(got, []string{"entered:event", "exited:time"}) {
				t.Fatalf("changes %v", got)
			}
			if ts := cs[len(cs)-1].Timestamp; !ts.Equal(t0.Add(30 * time.Second)) {
				t.Fatalf("exit stamped %s", ts)
			}
		})
	}
}

func TestPerformedFalseEntersWhenLastEventAgesOut(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("Lapsed", `{"all":[{"trait":"email","op":"exists"},{"event":"Visit","performed":false,"within":{"value":1,"unit":"hours"}}]}`)
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"email": "a@b.c"})))
	if len(h.members(seg)) != 1 {
		t.Fatal("a profile that never visited is lapsed")
	}
	h.clock.Set(t0.Add(10 * time.Minute))
	h.handle(h.rec(eventUpdate("p1", "Visit", t0.Add(10*time.Minute), nil, map[string]any{"email": "a@b.c"})))
	h.clock.Set(t0.Add(20 * time.Minute))
	h.handle(h.rec(eventUpdate("p1", "Visit", t0.Add(20*time.Minute), nil, map[string]any{"email": "a@b.c"})))
	if len(h.members(seg)) != 0 {
		t.Fatal("still lapsed after a visit")
	}
	h.clock.Set(t0.Add(80*time.Minute - time.Second))
	h.fireTimers()
	if len(h.members(seg)) != 0 {
		t.Fatal("entered before the last visit aged out")
	}
	h.clock.Set(t0.Add(80 * time.Minute))
	h.fireTimers()
	if len(h.members(seg)) != 1 {
		t.Fatal("did not enter when the last visit aged out")
	}
	if got := changesOf(h.sink.all(), seg, "p1"); !reflect.DeepEqual(got, []string{"entered:event", "exited:event", "entered:time"}) {
		t.Fatalf("changes %v", got)
	}
}

func TestTimersFireWithinASecondWhenRunning(t *testing.T) {
	h := newHarness(t, opts{})
	h.clock.Set(time.Now())
	seg := h.segment("Recent", `{"event":"Visit","within":{"value":1,"unit":"seconds"}}`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	visit := time.Now()
	h.clock.Set(visit)
	h.handle(h.rec(eventUpdate("p1", "Visit", visit, nil, nil)))
	// The real clock drives this one: the exit must come by itself, within
	// a second of the instant the window expires (visit + 1s).
	var seen time.Time
	for i := 0; i < 100; i++ {
		h.clock.Set(time.Now())
		if len(changesOf(h.sink.all(), seg, "p1")) == 2 {
			seen = time.Now()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if seen.IsZero() || seen.Sub(visit.Add(time.Second)) > time.Second {
		t.Fatalf("exit seen %v after the window expired", seen.Sub(visit.Add(time.Second)))
	}
	if got := changesOf(h.sink.all(), seg, "p1"); !reflect.DeepEqual(got, []string{"entered:event", "exited:time"}) {
		t.Fatalf("changes %v", got)
	}
}

func TestRedeliveryPublishesNothingTwice(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	r1 := h.rec(traitsUpdate("p1", map[string]any{"country": "IN"}))
	r2 := h.rec(traitsUpdate("p1", map[string]any{"country": "US"}, "country"))
	r3 := h.rec(traitsUpdate("p1", map[string]any{"country": "IN"}, "country"))
	h.handle(r1, r2)
	h.handle(r1, r2, r3) // the batch is redelivered with more
	h.handle(r3)
	got := changesOf(h.sink.all(), seg, "p1")
	if !reflect.DeepEqual(got, []string{"entered:event", "exited:event", "entered:event"}) {
		t.Fatalf("changes %v", got)
	}
	checkAlternation(t, h.sink.all())
}

// An update that changes nothing (the same traits, an event no condition
// counts) writes no state: its offset waits for the state's next change.
// Applied again meanwhile (a redelivery before that change) it still
// changes nothing; after the change it is a duplicate.
func TestUnchangedUpdateWritesNothing(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	ctx := context.Background()
	version := func() string { return h.rdb.HGet(ctx, h.ns+":{"+h.tenant+"}:seg:p:p1", "v").Val() }
	in := map[string]any{"country": "IN"}
	h.handle(h.rec(traitsUpdate("p1", in)))
	v1 := version()
	same := h.rec(eventUpdate("p1", "Page Viewed", h.clock.Now(), nil, in))
	h.handle(same)
	if v := version(); v != v1 {
		t.Fatalf("an update that changed nothing wrote the state: version %s → %s", v1, v)
	}
	h.handle(same)
	if v := version(); v != v1 {
		t.Fatalf("applied again: version %s → %s", v1, v)
	}
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"country": "US"}, "country")))
	if version() == v1 {
		t.Fatal("a change must write the state")
	}
	h.handle(same)
	got := changesOf(h.sink.all(), seg, "p1")
	if !reflect.DeepEqual(got, []string{"entered:event", "exited:event"}) {
		t.Fatalf("changes %v", got)
	}
	checkAlternation(t, h.sink.all())
}

func TestCrashBetweenRedisWriteAndPublish(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) { crashBetweenRedisWriteAndPublish(t, b.Client) })
	}
}

func crashBetweenRedisWriteAndPublish(t *testing.T, rc func(testing.TB) redis.UniversalClient) {
	h := newHarness(t, opts{redis: rc})
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	r1 := h.rec(traitsUpdate("p1", map[string]any{"country": "IN"}))
	r2 := h.rec(traitsUpdate("p1", map[string]any{"country": "US"}, "country"))
	// The broker is down: the state is written with its outbox, the batch
	// fails and is not committed.
	h.sink.setFail(errors.New("broker down"), false)
	if err := h.svc.Handle(context.Background(), []*kgo.Record{r1}); err == nil {
		t.Fatal("want an error")
	}
	if len(h.members(seg)) != 1 {
		t.Fatal("membership is written before publishing")
	}
	// Redelivery after a restart: the outbox is published, the update is not
	// applied twice.
	h.sink.setFail(nil, false)
	h.svc = h.newService(opts{redis: rc})
	h.handle(r1)
	// A crash after the broker acknowledged but before the outbox was
	// cleared: the change is published again with the same messageId.
	h.sink.setFail(errors.New("lost ack"), true)
	if err := h.svc.Handle(context.Background(), []*kgo.Record{r2}); err == nil {
		t.Fatal("want an error")
	}
	h.sink.setFail(nil, false)
	h.handle(r2)
	cs := h.sink.all()
	in := checkAlternation(t, cs)
	if in[seg+"/p1"] {
		t.Fatal("final published state should be out")
	}
	ids := map[string]bool{}
	for _, c := range cs {
		ids[c.MessageID] = true
	}
	if len(ids) != 2 {
		t.Fatalf("want exactly 2 distinct transitions, got %d (%v)", len(ids), changesOf(cs, seg, "p1"))
	}
}

func TestSweeperPublishesAbandonedOutbox(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	h.sink.setFail(errors.New("broker down"), false)
	if err := h.svc.Handle(context.Background(), []*kgo.Record{h.rec(traitsUpdate("p1", map[string]any{"country": "IN"}))}); err == nil {
		t.Fatal("want an error")
	}
	h.sink.setFail(nil, false)
	h.clock.Add(time.Minute)
	if err := segmenter.SweepForTest(h.svc, context.Background(), h.tenant); err != nil {
		t.Fatal(err)
	}
	if got := changesOf(h.sink.all(), seg, "p1"); !reflect.DeepEqual(got, []string{"entered:event"}) {
		t.Fatalf("changes %v", got)
	}
}

func TestSegmentReferencesCascade(t *testing.T) {
	h := newHarness(t, opts{})
	vip := h.segment("VIP", `{"trait":"spend","op":"gte","value":1000}`)
	indiaVIP := h.segment("India VIP", fmt.Sprintf(`{"all":[{"segment":%q},{"trait":"country","op":"eq","value":"IN"}]}`, vip))
	notVIP := h.segment("Not VIP", fmt.Sprintf(`{"all":[{"trait":"country","op":"exists"},{"segment":%q,"member":false}]}`, vip))
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"country": "IN", "spend": 10.0})))
	if len(h.members(notVIP)) != 1 || len(h.members(indiaVIP)) != 0 {
		t.Fatal("initial memberships")
	}
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"country": "IN", "spend": 5000.0}, "spend")))
	if len(h.members(indiaVIP)) != 1 || len(h.members(notVIP)) != 0 {
		t.Fatal("a change of VIP did not cascade")
	}
	code, body := h.do("DELETE", "/v1/segments/"+vip, nil)
	if code != 409 {
		t.Fatalf("deleting a referenced segment: %d %v", code, body)
	}
}

// TestMergeKeepsAbsorbedEventHistory: a merge that changes nothing else of
// the survivor (no trait, no identity, counts still under the threshold)
// still keeps the absorbed profile's event stamps: its third order makes
// it a member.
func TestMergeKeepsAbsorbedEventHistory(t *testing.T) {
	h := newHarness(t, opts{})
	buyers := h.segment("Buyers", `{"event":"Order Completed","count":{"op":"gte","value":3}}`)
	h.handle(h.rec(eventUpdate("a", "Order Completed", t0, nil, nil)))
	h.clock.Set(t0.Add(time.Second))
	h.handle(h.rec(eventUpdate("b", "Order Completed", t0.Add(time.Second), nil, nil)))
	h.handle(h.rec(schemas.ProfileUpdate{Type: schemas.ProfileMerged, ProfileID: "b",
		Merge: &schemas.Merge{Survivor: "b", Absorbed: []string{"a"}}}))
	h.clock.Set(t0.Add(2 * time.Second))
	h.handle(h.rec(eventUpdate("b", "Order Completed", t0.Add(2*time.Second), nil, nil)))
	if !reflect.DeepEqual(h.members(buyers), []string{"b"}) {
		t.Fatalf("survivor with 3 orders not a member: %v", h.members(buyers))
	}
}

func TestMergeAndDelete(t *testing.T) {
	h := newHarness(t, opts{})
	buyers := h.segment("Buyers", `{"event":"Order Completed","count":{"op":"gte","value":2}}`)
	india := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	h.handle(h.rec(eventUpdate("a", "Order Completed", t0, nil, map[string]any{"country": "IN"})))
	h.clock.Set(t0.Add(time.Second))
	h.handle(h.rec(eventUpdate("b", "Order Completed", t0.Add(time.Second), nil, nil)))
	if len(h.members(buyers)) != 0 || !reflect.DeepEqual(h.members(india), []string{"a"}) {
		t.Fatal("before merge")
	}
	merge := h.rec(schemas.ProfileUpdate{Type: schemas.ProfileMerged, ProfileID: "b", Traits: map[string]any{"country": "IN"},
		Changes: map[string]schemas.TraitChange{"country": {New: "IN"}}, Merge: &schemas.Merge{Survivor: "b", Absorbed: []string{"a"}}})
	h.handle(merge)
	h.handle(merge) // redelivered
	if !reflect.DeepEqual(h.members(buyers), []string{"b"}) || !reflect.DeepEqual(h.members(india), []string{"b"}) {
		t.Fatalf("after merge: buyers %v india %v", h.members(buyers), h.members(india))
	}
	cs := h.sink.all()
	if got := changesOf(cs, india, "a"); !reflect.DeepEqual(got, []string{"entered:event", "exited:merge"}) {
		t.Fatalf("absorbed: %v", got)
	}
	if got := changesOf(cs, buyers, "b"); !reflect.DeepEqual(got, []string{"entered:merge"}) {
		t.Fatalf("survivor: %v", got)
	}
	// A late update for the absorbed profile changes nothing.
	h.handle(h.rec(traitsUpdate("a", map[string]any{"country": "IN"})))
	if len(changesOf(h.sink.all(), india, "a")) != 2 {
		t.Fatal("absorbed profile re-entered")
	}
	h.handle(h.rec(schemas.ProfileUpdate{Type: schemas.UserDeleted, ProfileID: "b"}))
	if len(h.members(buyers)) != 0 || len(h.members(india)) != 0 {
		t.Fatal("deleted profile still a member")
	}
	if got := changesOf(h.sink.all(), india, "b"); !reflect.DeepEqual(got, []string{"entered:merge", "exited:delete"}) {
		t.Fatalf("deleted: %v", got)
	}
	checkAlternation(t, h.sink.all())
}

// A merge inside a batch sees the updates before it and is seen by those
// after it, as when each record comes on its own.
func TestMergeInsideABatch(t *testing.T) {
	h := newHarness(t, opts{})
	buyers := h.segment("Buyers", `{"event":"Order Completed","count":{"op":"gte","value":2}}`)
	india := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	h.clock.Set(t0.Add(2 * time.Second))
	batch := []*kgo.Record{ // (offsets in this order)
		h.rec(eventUpdate("a", "Order Completed", t0, nil, map[string]any{"country": "IN"})),
		h.rec(eventUpdate("b", "Order Completed", t0.Add(time.Second), nil, nil)),
		h.rec(schemas.ProfileUpdate{Type: schemas.ProfileMerged, ProfileID: "b", Traits: map[string]any{"country": "IN"},
			Changes: map[string]schemas.TraitChange{"country": {New: "IN"}}, Merge: &schemas.Merge{Survivor: "b", Absorbed: []string{"a"}}}),
		h.rec(traitsUpdate("b", map[string]any{"country": "US"})),
	}
	h.handle(batch...)
	h.handle(batch...) // redelivered
	if !reflect.DeepEqual(h.members(buyers), []string{"b"}) || len(h.members(india)) != 0 {
		t.Fatalf("after the batch: buyers %v india %v", h.members(buyers), h.members(india))
	}
	cs := h.sink.all()
	if got := changesOf(cs, india, "a"); !reflect.DeepEqual(got, []string{"entered:event", "exited:merge"}) {
		t.Fatalf("absorbed: %v", got)
	}
	if got := changesOf(cs, buyers, "b"); !reflect.DeepEqual(got, []string{"entered:merge"}) {
		t.Fatalf("survivor in buyers: %v", got)
	}
	if got := changesOf(cs, india, "b"); !reflect.DeepEqual(got, []string{"entered:merge", "exited:event"}) {
		t.Fatalf("survivor in india: %v", got)
	}
	checkAlternation(t, cs)
}

// The identity stage emits user.created, profile.updated and user.updated
// for one message; together they enter once, and a redelivery adds nothing.
func TestIdentityRecordSequence(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("India", `{"all":[{"trait":"country","op":"eq","value":"IN"},{"event":"Signed Up"}]}`)
	traits := map[string]any{"country": "IN"}
	created := h.rec(schemas.ProfileUpdate{Type: schemas.UserCreated, ProfileID: "p1", Traits: traits})
	updated := h.rec(schemas.ProfileUpdate{Type: schemas.ProfileUpdated, ProfileID: "p1", Traits: traits,
		Changes: map[string]schemas.TraitChange{"country": {New: "IN"}},
		Event:   &schemas.EventSummary{Type: "identify", Name: "Signed Up", MessageID: "m1", Timestamp: t0}})
	user := h.rec(schemas.ProfileUpdate{Type: schemas.UserUpdated, ProfileID: "p1", Traits: traits,
		Changes: map[string]schemas.TraitChange{"country": {New: "IN"}}})
	h.handle(created, updated, user)
	h.handle(created, updated, user)
	if got := changesOf(h.sink.all(), seg, "p1"); !reflect.DeepEqual(got, []string{"entered:event"}) {
		t.Fatalf("changes %v", got)
	}
}

// A profile that a message created has no history: its event conditions
// start from its own events without reading the identity store, and it
// enters as it would have; a profile first seen without user.created is
// seeded from the store (its earlier events count).
func TestCreatedProfileIsNotSeededFromTheStore(t *testing.T) {
	h := newHarness(t, opts{})
	seg := h.segment("Twice", `{"event":"Order Completed","count":{"op":"gte","value":2}}`)
	order := func(pid, mid string, at time.Time) *kgo.Record {
		return h.rec(schemas.ProfileUpdate{Type: schemas.ProfileUpdated, ProfileID: pid,
			Event: &schemas.EventSummary{Type: "track", Name: "Order Completed", MessageID: mid, Timestamp: at}})
	}
	h.handle(h.rec(schemas.ProfileUpdate{Type: schemas.UserCreated, ProfileID: "new"}), order("new", "n1", t0.Add(-time.Minute)))
	h.handle(order("new", "n2", t0))
	if n := h.src.readsOf("new"); n != 0 {
		t.Errorf("created profile: %d reads of its events", n)
	}
	if got := changesOf(h.sink.all(), seg, "new"); !reflect.DeepEqual(got, []string{"entered:event"}) {
		t.Errorf("created profile: changes %v", got)
	}
	// an older profile: one order before this segmenter saw it
	h.src.addEvent("old", schemas.EventSummary{Type: "track", Name: "Order Completed", MessageID: "o0", Timestamp: t0.Add(-time.Hour)})
	h.src.addEvent("old", schemas.EventSummary{Type: "track", Name: "Order Completed", MessageID: "o1", Timestamp: t0})
	h.handle(order("old", "o1", t0))
	if n := h.src.readsOf("old"); n != 1 {
		t.Errorf("older profile: %d reads of its events, want 1", n)
	}
	if got := changesOf(h.sink.all(), seg, "old"); !reflect.DeepEqual(got, []string{"entered:event"}) {
		t.Errorf("older profile: changes %v", got)
	}
}

// With DiscardChanges (a replay's segmenter) memberships and their
// transition numbers are kept as usual but no outbox entry is written and
// nothing is emitted.
func TestDiscardChangesWritesNoOutbox(t *testing.T) {
	h := newHarness(t, opts{cfg: func(c *segmenter.Config) { c.DiscardChanges = true }})
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"country": "IN"})))
	h.handle(h.rec(traitsUpdate("p2", map[string]any{"country": "IN"})))
	h.handle(h.rec(traitsUpdate("p1", map[string]any{"country": "FR"})))
	if got := h.members(seg); !reflect.DeepEqual(got, []string{"p2"}) {
		t.Fatalf("members %v", got)
	}
	if n := len(h.sink.all()); n != 0 {
		t.Errorf("%d changes emitted", n)
	}
	keys, err := h.rdb.Keys(context.Background(), h.ns+":*seg:o:*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("outbox keys %v (%v)", keys, err)
	}
	if n, _ := h.rdb.ZCard(context.Background(), h.ns+":{"+h.tenant+"}:seg:pending").Result(); n != 0 {
		t.Errorf("%d profiles pending", n)
	}
}

// With UpdatesHoldAllHistory (a replay into a new generation) event
// conditions start from the updates alone: the identity store is not
// read.
func TestUpdatesHoldAllHistoryReadsNoEvents(t *testing.T) {
	h := newHarness(t, opts{cfg: func(c *segmenter.Config) { c.UpdatesHoldAllHistory = true }})
	seg := h.segment("Twice", `{"event":"Order Completed","count":{"op":"gte","value":2}}`)
	h.src.addEvent("old", schemas.EventSummary{Type: "track", Name: "Order Completed", MessageID: "o0", Timestamp: t0.Add(-time.Hour)})
	order := func(mid string, at time.Time) *kgo.Record {
		return h.rec(schemas.ProfileUpdate{Type: schemas.ProfileUpdated, ProfileID: "old",
			Event: &schemas.EventSummary{Type: "track", Name: "Order Completed", MessageID: mid, Timestamp: at}})
	}
	h.handle(order("o1", t0.Add(-time.Minute)))
	if n := h.src.readsOf("old"); n != 0 {
		t.Errorf("%d reads of the identity store", n)
	}
	if got := changesOf(h.sink.all(), seg, "old"); len(got) != 0 {
		t.Errorf("entered on history it was not given: %v", got)
	}
	h.handle(order("o2", t0))
	if got := changesOf(h.sink.all(), seg, "old"); !reflect.DeepEqual(got, []string{"entered:event"}) {
		t.Errorf("changes %v", got)
	}
}

// With WriteBehind (a replay's segmenter) states stay in memory until
// Flush, which leaves Redis as the commits after every batch would have;
// beyond WriteBehindMax they are written out and forgotten on the way.
func TestWriteBehindEqualsCommits(t *testing.T) {
	for _, max := range []int{1000, 3} {
		t.Run(fmt.Sprint("max", max), func(t *testing.T) {
			h := newHarness(t, opts{cfg: func(c *segmenter.Config) { c.DiscardChanges = true }})
			wbNS := h.ns + "wb"
			wb := h.newService(opts{cfg: func(c *segmenter.Config) {
				c.Namespace, c.DiscardChanges, c.WriteBehind, c.WriteBehindMax = wbNS, true, true, max
			}})
			segs := []string{
				h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`),
				h.segment("Buyers", `{"event":"Order Completed","count":{"op":"gte","value":2},"within":{"value":1,"unit":"days"}}`),
			}
			h.segment("Indian buyers", fmt.Sprintf(`{"all":[{"segment":%q},{"segment":%q}]}`, segs[0], segs[1]))
			waitForSegments(t, wb, h.tenant, segs)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(7, 8))
			at := t0.Add(-time.Hour)
			for b := range 6 {
				var batch []*kgo.Record
				for range 12 {
					at = at.Add(time.Minute)
					pid := fmt.Sprint("p", rng.IntN(8))
					switch x := rng.IntN(10); {
					case x < 5:
						batch = append(batch, h.rec(eventUpdate(pid, "Order Completed", at, nil, nil)))
					case x < 9:
						batch = append(batch, h.rec(traitsUpdate(pid, map[string]any{"country": []string{"IN", "FR"}[rng.IntN(2)]})))
					default:
						other := fmt.Sprint("p", rng.IntN(8))
						if other == pid {
							continue
						}
						batch = append(batch, h.rec(schemas.ProfileUpdate{Type: schemas.ProfileMerged, ProfileID: pid,
							Merge: &schemas.Merge{Survivor: pid, Absorbed: []string{other}}}))
					}
				}
				h.handle(batch...)
				if err := wb.Handle(ctx, batch); err != nil {
					t.Fatalf("batch %d: %v", b, err)
				}
			}
			if max > 100 {
				if keys := redisDump(t, h.rdb, wbNS); len(keys) != 0 {
					t.Fatalf("written before Flush: %v", keys)
				}
			}
			if err := wb.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			want, got := redisDump(t, h.rdb, h.ns), redisDump(t, h.rdb, wbNS)
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("write-behind left\n%v\ncommits left\n%v", got, want)
			}
		})
	}
}

// waitForSegments waits until svc knows the segments.
func waitForSegments(t *testing.T, svc *segmenter.Service, tenant string, ids []string) {
	t.Helper()
	for _, id := range ids {
		for i := 0; ; i++ {
			_, _, err := svc.ScanMembers(context.Background(), tenant, id, "", 1)
			if err == nil {
				break
			}
			if i > 200 {
				t.Fatalf("segment %s: %v", id, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// redisDump is every key under ns (without ns) and its content, profile
// states without their version.
func redisDump(t *testing.T, rdb redis.UniversalClient, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	keys, err := rdb.Keys(ctx, ns+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var v any
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "hash":
			m := rdb.HGetAll(ctx, k).Val()
			delete(m, "v")
			v = m
		case "zset":
			v = rdb.ZRangeWithScores(ctx, k, 0, -1).Val()
		default:
			v = typ
		}
		out[strings.TrimPrefix(k, ns)] = fmt.Sprint(v)
	}
	return out
}
