package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
)

// TestGenerationSwitchRestartsStages: a process serves generation 1; a
// replay builds u360g2 and switches; the process restarts its identity and
// segmenter on u360g2 (its groups start where the replay ended), the
// profile API reads the new generation, and new events land in it. The
// Redis is an embedded one: the pointer key "u360:generation" is global.
func TestGenerationSwitchRestartsStages(t *testing.T) {
	k, topics := testenv.Kafka(t)
	rdb := testenv.MiniRedis(t)
	tenants, err := config.NewTenants([]config.Tenant{{ID: "demo", APIKeys: []string{"ak_gen"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := stackConfig{
		Roles: []string{"identity", "segmenter"}, Brokers: k.Addrs(), TopicPrefix: schemas.DefaultTopicPrefix, Partitions: 4,
		Redis: rdb, Tenants: tenants, HTTPAddr: "127.0.0.1:0", Log: zerolog.Nop(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	stacks := make(chan *stack, 4)
	done := make(chan error, 1)
	go func() { done <- runGenerations(ctx, cfg, 50*time.Millisecond, func(st *stack) { stacks <- st }) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runGenerations: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("no shutdown within 20s")
		}
	}()
	next := func() *stack {
		t.Helper()
		select {
		case st := <-stacks:
			return st
		case <-time.After(20 * time.Second):
			t.Fatal("no stack started")
			return nil
		}
	}
	st1 := next()
	if st1.cfg.Namespace != "u360" {
		t.Fatalf("generation 1 namespace %q", st1.cfg.Namespace)
	}
	cl := testenv.Client(t, k.Addrs())
	pub := ingest.NewPublisher(cl, topics, "test")
	publish := func(mid string, traits map[string]any) {
		ev := schemas.Event{Type: "identify", MessageID: mid, UserID: "gen-user", Traits: traits, Timestamp: time.Now().UTC(), ReceivedAt: time.Now().UTC()}
		if err := pub.Publish(context.Background(), "demo", []schemas.Event{ev}, nil); err != nil {
			t.Fatal(err)
		}
	}
	publish("m1", map[string]any{"plan": "pro"})
	url := func(st *stack) string { return "http://" + st.server.Addr() }
	waitTrait(t, url(st1), "plan", "pro")

	res, err := replay.Run(context.Background(), replay.Options{
		Kafka: kafka.ClientConfig{Brokers: k.Addrs()}, Topics: topics, Redis: rdb, Tenants: tenants, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Switched || res.Plan.Target != "u360g2" || res.Applied != 1 {
		t.Fatalf("replay %+v", res)
	}
	st2 := next()
	if st2.cfg.Namespace != "u360g2" {
		t.Fatalf("restarted on %q", st2.cfg.Namespace)
	}
	if ns, g := st2.generation("user360-identity"); ns != "u360g2" || g != "user360-identity.u360g2" {
		t.Fatalf("generation %s %s", ns, g)
	}
	waitTrait(t, url(st2), "plan", "pro")
	// A new event is applied by the new generation's consumers.
	publish("m2", map[string]any{"plan": "enterprise"})
	waitTrait(t, url(st2), "plan", "enterprise")
	// The old generation stopped: it never saw m2.
	old := identity.NewStore(rdb, "u360", identity.WithTenants(tenants))
	pid, err := old.Resolve(context.Background(), "demo", "user_id:gen-user")
	if err != nil {
		t.Fatal(err)
	}
	p, err := old.GetProfile(context.Background(), "demo", pid)
	if err != nil || p.Traits["plan"] != "pro" {
		t.Fatalf("old generation: %v %v", p.Traits, err)
	}
}

func waitTrait(t *testing.T, base, trait, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, prof := apiCall(t, "GET", base+"/v1/profiles/user_id:gen-user", "ak_gen", "")
		if traits, _ := prof["traits"].(map[string]any); code == 200 && fmt.Sprint(traits[trait]) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trait %s=%s not visible: %d %v", trait, want, code, prof)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
