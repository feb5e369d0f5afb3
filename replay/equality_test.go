package replay_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
)

func day(d int) time.Time { return now.AddDate(0, 0, -d) }

// workload publishes, in phases the live pipeline finishes one by one:
// anonymous visits and known users, identifies that merge them, orders,
// a trait change, a delete and an event after it.
func workload(e *env, users int) {
	var p1 []schemas.Event
	for i := range users {
		uid, anon := fmt.Sprintf("user-%d", i), fmt.Sprintf("anon-%d", i)
		plan := "free"
		if i%2 == 0 {
			plan = "pro"
		}
		p1 = append(p1,
			schemas.Event{Type: "page", MessageID: fmt.Sprintf("p1-page-%d", i), AnonymousID: anon, Name: "Pricing", Timestamp: day(20).Add(time.Duration(i) * time.Minute)},
			schemas.Event{Type: "track", MessageID: fmt.Sprintf("p1-view-%d", i), AnonymousID: anon, Event: "Product Viewed", Properties: map[string]any{"sku": "A-1"}, Timestamp: day(19).Add(time.Duration(i) * time.Minute)},
			schemas.Event{Type: "identify", MessageID: fmt.Sprintf("p1-id-%d", i), UserID: uid,
				Traits: map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "plan": plan, "country": []string{"IN", "US"}[i%2]}, Timestamp: day(18).Add(time.Duration(i) * time.Minute)},
		)
	}
	e.publish(p1...)
	e.settle()
	// Phase 2: merges (anonymous visitor ↔ known user) and orders.
	var p2 []schemas.Event
	for i := range users {
		uid := fmt.Sprintf("user-%d", i)
		if i%3 != 2 {
			p2 = append(p2, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("p2-link-%d", i), UserID: uid, AnonymousID: fmt.Sprintf("anon-%d", i),
				Traits: map[string]any{"firstName": fmt.Sprintf("N%d", i)}, Timestamp: day(10).Add(time.Duration(i) * time.Minute)})
		}
		for k := 0; k < i%4; k++ {
			p2 = append(p2, schemas.Event{Type: "track", MessageID: fmt.Sprintf("p2-order-%d-%d", i, k), UserID: uid, Event: "Order Completed",
				Properties: map[string]any{"revenue": 50 + 40*k}, Timestamp: day(9 - k).Add(time.Duration(i) * time.Minute)})
		}
	}
	e.publish(p2...)
	e.settle()
	// A segment created now is backfilled live; the replay sees it from
	// the start.
	e.segment("late-buyers", `{"event":"Order Completed","performed":true,"where":[{"property":"revenue","op":"gt","value":60}]}`)
	// Phase 3: a trait change, a delete, a redelivered message.
	e.publish(
		schemas.Event{Type: "identify", MessageID: "p3-downgrade", UserID: "user-0", Traits: map[string]any{"plan": "free"}, Timestamp: day(5)},
		schemas.Event{Type: schemas.TypeDelete, MessageID: "p3-delete", UserID: "user-3", Timestamp: day(4)},
		schemas.Event{Type: "track", MessageID: "p2-order-1-0", UserID: "user-1", Event: "Order Completed", Properties: map[string]any{"revenue": 50}, Timestamp: day(9).Add(time.Minute)},
	)
	e.settle()
	// Phase 4: after the delete, user-3 comes back (a new profile); a late
	// event older than the delete is refused.
	e.publish(
		schemas.Event{Type: "identify", MessageID: "p4-back", UserID: "user-3", Traits: map[string]any{"plan": "pro"}, Timestamp: day(2)},
		schemas.Event{Type: "track", MessageID: "p4-late", AnonymousID: "anon-3", Event: "Product Viewed", Timestamp: day(6)},
	)
	e.settle()
}

func segments(e *env) {
	e.segment("pro", `{"trait":"plan","op":"eq","value":"pro"}`)
	e.segment("buyers", `{"event":"Order Completed","performed":true,"count":{"op":"gte","value":2},"within":{"value":30,"unit":"days"}}`)
	e.segment("in-viewers", `{"all":[{"trait":"country","op":"eq","value":"IN"},{"event":"Product Viewed","performed":true}]}`)
}

// TestReplayEqualsLive processes a workload live, replays the same log into
// a new generation and compares the two in a canonical form: profiles
// (traits, identities, created/last seen, merges), the identifier index,
// aliases, per-event counters, timelines and segment memberships. Then it
// checks the switch-over: the pointer, and the new groups' offsets.
func TestReplayEqualsLive(t *testing.T) {
	e := newEnv(t)
	segments(e)
	e.live()
	workload(e, 12)
	liveSnap := takeSnapshot(t, e.rdb, e.tenants, e.base, e.tenant)
	if len(liveSnap.Profiles) < 10 || len(liveSnap.Aliases) == 0 || len(liveSnap.Members["pro"]) == 0 || len(liveSnap.Members["buyers"]) == 0 || len(liveSnap.Members["late-buyers"]) == 0 || len(liveSnap.Members["in-viewers"]) == 0 {
		t.Fatalf("the workload did not exercise merges and segments: %d profiles, %d aliases, members %v", len(liveSnap.Profiles), len(liveSnap.Aliases), liveSnap.Members)
	}

	t.Logf("live: %d profiles, %d identifiers, %d aliases, members %v", len(liveSnap.Profiles), len(liveSnap.Index), len(liveSnap.Aliases), liveSnap.Members)
	var out bytes.Buffer
	o := e.options()
	o.Progress = &out
	res, err := replay.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	target := e.base + "g2"
	if res.Plan.Target != target || !res.Switched || res.Applied != res.Plan.Records || res.Read != res.Plan.Records {
		t.Fatalf("result %+v", res)
	}
	t.Cleanup(func() { cleanKeys(e.rdb, target+"*") })
	replaySnap := takeSnapshot(t, e.rdb, e.tenants, target, e.tenant)
	if d := diff(liveSnap, replaySnap); len(d) > 0 {
		t.Fatalf("replay differs from live in %d places:\n%s", len(d), strings.Join(d, "\n"))
	}

	// The switch: the pointer names the new generation, whose identity
	// group starts where the replay ended and whose segmenter group starts
	// at the end of the profile updates.
	if ns, err := replay.ActiveNamespace(context.Background(), e.rdb, e.base); err != nil || ns != target {
		t.Fatalf("active namespace %q, %v", ns, err)
	}
	adm := kadm.NewClient(e.cl)
	for group, topic := range map[string]string{e.idGroup + "." + target: e.topics.Events, e.sgGroup + "." + target: e.topics.ProfileUpdates} {
		ends, _ := adm.ListEndOffsets(context.Background(), topic)
		got, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(o kadm.ListedOffset) {
			c, ok := got.Lookup(topic, o.Partition)
			if !ok || c.At != o.Offset {
				t.Errorf("group %s partition %d committed %v, want %d", group, o.Partition, c.At, o.Offset)
			}
		})
	}
	if !strings.Contains(out.String(), fmt.Sprintf("%d/%d records (100.0%%)", res.Plan.Records, res.Plan.Records)) {
		t.Fatalf("progress output %q", out.String())
	}
}
