package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestThreeConsumersInOneGroup: three identity services share a consumer
// group on the embedded broker; randomly linked identifiers published
// through the log end up partitioned exactly as the connected components.
func TestThreeConsumersInOneGroup(t *testing.T) {
	broker, topics := testenv.Kafka(t)
	brokers := broker.Addrs()
	tenant := testenv.Tenant(t)
	ts, err := config.NewTenants([]config.Tenant{{ID: tenant, Identity: config.IdentityRules{
		Limits: map[string]int{"anonymous_id": 1 << 20, "device": 1 << 20},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	rdb := testenv.Redis(t)
	cfg := DefaultConfig()
	cfg.Namespace = namespace(t, rdb)
	cfg.Group = "identity-" + tenant
	cfg.MaxPollRecords = 100
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var svc *Service
	for range 3 {
		s, err := New(cfg, Deps{Tenants: ts, Redis: rdb, Kafka: kafka.ClientConfig{Brokers: brokers}, Topics: topics, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		svc = s
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()

	rng := rand.New(rand.NewPCG(3, 4))
	uf := unionFind{}
	var ids []string
	var msgs []schemas.Event
	for p := range 100 {
		var mine []string
		for j := range 8 {
			typ := "anonymous_id"
			if j%2 == 1 {
				typ = "device"
			}
			id := fmt.Sprintf("%s:g%d-%d", typ, p, j)
			mine = append(mine, id)
			ids = append(ids, id)
			uf.find(id)
		}
		for range 8 {
			a, b := mine[rng.IntN(8)], mine[rng.IntN(8)]
			msgs = append(msgs, linkMessage(len(msgs), a, b))
			uf.union(a, b)
		}
	}
	for _, id := range ids {
		msgs = append(msgs, linkMessage(len(msgs), id, id))
	}
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	pub := ingest.NewPublisher(testenv.Client(t, brokers), topics, "test")
	for i := 0; i < len(msgs); i += 200 {
		if err := pub.Publish(ctx, tenant, msgs[i:min(i+200, len(msgs))], nil); err != nil {
			t.Fatal(err)
		}
	}
	store := svc.Store()
	want := map[string]string{}
	for _, id := range ids {
		want[id] = uf.find(id)
	}
	eventually(t, "every message applied", func() bool {
		if ok, err := store.applied(ctx, tenant, msgs[len(msgs)-1].MessageID, time.Now()); err != nil || !ok {
			return false
		}
		for _, m := range msgs {
			if ok, _ := store.applied(ctx, tenant, m.MessageID, time.Now()); !ok {
				return false
			}
		}
		return true
	})
	owner, _ := partition(t, store, tenant, ids)
	if canonical(owner) != canonical(want) {
		t.Fatal("profiles differ from the connected components")
	}
}
