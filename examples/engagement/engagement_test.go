package engagement_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/examples/engagement"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

func produce(t *testing.T, cl *kgo.Client, topic string, cs ...schemas.SegmentChange) {
	t.Helper()
	for _, c := range cs {
		v, _ := json.Marshal(c)
		r := &kgo.Record{Topic: topic, Key: schemas.Key(c.Tenant, c.ProfileID), Value: v,
			Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte(c.Tenant)}, {Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaSegmentChange)}}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func change(typ, profile string, n int) schemas.SegmentChange {
	return schemas.SegmentChange{Type: typ, MessageID: fmt.Sprintf("m-%s-%d", profile, n), Tenant: "demo", SegmentID: "seg1",
		SegmentName: "Big spenders", ProfileID: profile, UserID: "u" + profile,
		Identities: []schemas.Identity{{Type: "email", Value: profile + "@example.com"}},
		Timestamp:  time.Date(2026, 11, 28, 10, 0, n, 0, time.UTC), Cause: schemas.CauseEvent}
}

// consumeUntil runs Consume until want changes arrived.
func consumeUntil(t *testing.T, cfg engagement.Config, want int) []engagement.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []engagement.Change
	err := engagement.Consume(ctx, cfg, func(_ context.Context, c engagement.Change) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, c)
		if len(got) == want {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != want {
		t.Fatalf("got %d changes, want %d", len(got), want)
	}
	return got
}

func TestEngagementSeesSegmentChangesInOrderAndCommits(t *testing.T) {
	k, topics := testenv.Kafka(t)
	cl := testenv.Client(t, k.Addrs())
	produce(t, cl, topics.SegmentChanges,
		change(schemas.SegmentEntered, "p1", 1), change(schemas.SegmentEntered, "p2", 2), change(schemas.SegmentExited, "p1", 3))
	cfg := engagement.Config{Brokers: k.Addrs(), Topic: topics.SegmentChanges, GroupID: "campaigns"}
	got := consumeUntil(t, cfg, 3)
	var p1 []string
	for _, c := range got {
		if c.Tenant != "demo" || c.SegmentName != "Big spenders" || len(c.Identities) != 1 || c.Timestamp.IsZero() {
			t.Fatalf("change %+v", c)
		}
		if c.ProfileID == "p1" {
			p1 = append(p1, c.Type)
		}
	}
	if len(p1) != 2 || p1[0] != schemas.SegmentEntered || p1[1] != schemas.SegmentExited {
		t.Fatalf("p1 order: %v", p1)
	}
	// The group committed: a restart sees only what came after.
	produce(t, cl, topics.SegmentChanges, change(schemas.SegmentEntered, "p3", 4))
	got = consumeUntil(t, cfg, 1)
	if got[0].ProfileID != "p3" || !got[0].Entered() {
		t.Fatalf("after restart: %+v", got[0])
	}
}

func ExampleConsume() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = engagement.Consume(ctx, engagement.Config{Brokers: []string{"127.0.0.1:9092"}, GroupID: "my-campaigns"},
		func(_ context.Context, c engagement.Change) error {
			if c.Entered() {
				fmt.Println("start journey for", c.UserID, "in", c.SegmentName)
			}
			return nil
		})
}
