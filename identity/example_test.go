package identity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/schemas"
)

func ExampleParseRef() {
	for _, s := range []string{"email:asha@example.com", "whatsapp:919845012345", "p1f2e3d4c5b6a7980"} {
		r, _ := identity.ParseRef(s)
		fmt.Printf("%q %q %v\n", r.Type, r.Value, r.ProfileID)
	}
	// Output:
	// "email" "asha@example.com" false
	// "whatsapp" "919845012345" false
	// "" "p1f2e3d4c5b6a7980" true
}

// A processor applies events-topic records to the store; the store answers
// reads by any identifier.
func ExampleProcessor() {
	srv, _ := redisx.StartEmbedded()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	tenants, _ := config.NewTenants([]config.Tenant{{ID: "demo"}})
	store := identity.NewStore(rdb, "u360", identity.WithTenants(tenants))
	var published []*kgo.Record
	proc := identity.NewProcessor(store, tenants, schemas.NewTopics(""),
		func(_ context.Context, recs ...*kgo.Record) error { published = append(published, recs...); return nil },
		zerolog.Nop(), nil)

	record := func(e schemas.Event) *kgo.Record {
		v, _ := json.Marshal(e)
		return &kgo.Record{Key: schemas.Key("demo", e.IdentityKey()), Value: v,
			Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte("demo")}}}
	}
	ts := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	_ = proc.Handle(context.Background(), []*kgo.Record{
		record(schemas.Event{Type: "page", MessageID: "m1", AnonymousID: "web-1", Timestamp: ts}),
		record(schemas.Event{Type: "identify", MessageID: "m2", UserID: "42", AnonymousID: "web-1",
			Traits: map[string]any{"email": "Asha@Example.com"}, Timestamp: ts.Add(time.Minute)}),
	})
	pid, _ := store.Resolve(context.Background(), "demo", "email:asha@example.com")
	p, _ := store.GetProfile(context.Background(), "demo", pid)
	fmt.Println(p.UserID, len(p.Identities), p.Traits["email"], len(published))
	// Output: 42 3 asha@example.com 4
}

// A processor can hand its profile updates over unencoded (a replay's
// segmenter runs in the same process) instead of producing records.
func ExampleProcessor_SendUpdatesTo() {
	srv, _ := redisx.StartEmbedded()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	tenants, _ := config.NewTenants([]config.Tenant{{ID: "demo"}})
	store := identity.NewStore(rdb, "u360", identity.WithTenants(tenants))
	proc := identity.NewProcessor(store, tenants, schemas.NewTopics(""),
		func(context.Context, ...*kgo.Record) error { return nil }, zerolog.Nop(), nil)
	proc.SendUpdatesTo(func(ups []identity.Update) {
		for _, u := range ups {
			fmt.Println(u.Type, u.UserID, string(u.TraitsJSON), len(u.Changes))
		}
	})
	v, _ := json.Marshal(schemas.Event{Type: "identify", MessageID: "m1", UserID: "42",
		Traits: map[string]any{"plan": "pro"}, Timestamp: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)})
	_ = proc.Handle(context.Background(), []*kgo.Record{{Key: schemas.Key("demo", "42"), Value: v,
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte("demo")}}}})
	// Output:
	// user.created 42 {"plan":"pro","userId":"42"} 0
	// profile.updated 42 {"plan":"pro","userId":"42"} 2
}

// A replay into a new namespace holds the writes of the messages it plans
// exactly: Redis holds them only after FlushHeld.
func ExampleProcessor_HoldWrites() {
	srv, _ := redisx.StartEmbedded()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	tenants, _ := config.NewTenants([]config.Tenant{{ID: "demo"}})
	store := identity.NewStore(rdb, "u360g2", identity.WithTenants(tenants))
	proc := identity.NewProcessor(store, tenants, schemas.NewTopics(""),
		func(context.Context, ...*kgo.Record) error { return nil }, zerolog.Nop(), nil)
	proc.SkipStoredOutputs() // a replay publishes nothing
	proc.HoldWrites(1000)
	ts := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i, plan := range []string{"free", "pro", "team"} {
		v, _ := json.Marshal(schemas.Event{Type: "identify", MessageID: fmt.Sprint("m", i), UserID: "42",
			Traits: map[string]any{"plan": plan}, Timestamp: ts.Add(time.Duration(i) * time.Minute)})
		recs = append(recs, &kgo.Record{Key: schemas.Key("demo", "42"), Value: v,
			Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte("demo")}}})
	}
	ctx := context.Background()
	_ = proc.Handle(ctx, recs)
	_, err := store.Resolve(ctx, "demo", "user_id:42")
	fmt.Println("before the flush:", err != nil)
	_ = proc.FlushHeld(ctx)
	pid, _ := store.Resolve(ctx, "demo", "user_id:42")
	p, _ := store.GetProfile(ctx, "demo", pid)
	fmt.Println("after:", p.Traits["plan"], proc.HeldMessages(), "messages held")
	// Output:
	// before the flush: true
	// after: team 3 messages held
}

// Stage queues a batch's writes to Redis (behind the previous batch's) and
// returns; the writes and the batch's profile updates go on in the
// background, and its finish waits for them and marks the updates
// published. A consumer stages the next batch meanwhile and commits
// each batch's offsets after its finish (kafka.NewStagedConsumer).
func ExampleProcessor_Stage() {
	srv, _ := redisx.StartEmbedded()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	tenants, _ := config.NewTenants([]config.Tenant{{ID: "demo"}})
	store := identity.NewStore(rdb, "u360", identity.WithTenants(tenants))
	var published []string
	proc := identity.NewProcessor(store, tenants, schemas.NewTopics(""),
		func(_ context.Context, recs ...*kgo.Record) error {
			for _, r := range recs {
				var u schemas.ProfileUpdate
				_ = json.Unmarshal(r.Value, &u)
				if u.Event != nil {
					published = append(published, u.Event.MessageID)
				}
			}
			return nil
		}, zerolog.Nop(), nil)
	record := func(mid string) *kgo.Record {
		v, _ := json.Marshal(schemas.Event{Type: "track", Event: "Tick", MessageID: mid, UserID: "42",
			Timestamp: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)})
		return &kgo.Record{Key: schemas.Key("demo", "42"), Value: v,
			Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte("demo")}}}
	}
	ctx := context.Background()
	finish1, _ := proc.Stage(ctx, []*kgo.Record{record("m1")})
	finish2, _ := proc.Stage(ctx, []*kgo.Record{record("m2")}) // applied before batch 1 is finished
	_ = finish1(ctx)                                           // then commit batch 1's offsets
	_ = finish2(ctx)                                           // then batch 2's
	fmt.Println(published)
	// Output: [m1 m2]
}
