package defs_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/testenv"
)

func start(t *testing.T, brokers []string, topic string) *defs.Store {
	t.Helper()
	return testenv.Defs(t, brokers, topic)
}

func TestPutIsReadableAtOnceAndByOtherInstances(t *testing.T) {
	k, topics := testenv.Kafka(t)
	a := start(t, k.Addrs(), topics.Definitions)
	ctx := context.Background()
	if err := a.Put(ctx, "segment", "demo", "s1", map[string]string{"name": "VIP"}); err != nil {
		t.Fatal(err)
	}
	v, ok := a.Get("segment", "demo", "s1")
	if !ok || string(v) != `{"name":"VIP"}` {
		t.Fatalf("read-your-writes: %s %v", v, ok)
	}
	if _, ok := a.Get("segment", "other", "s1"); ok {
		t.Fatal("another tenant sees the definition")
	}
	// A second instance started later catches up from the log.
	b := start(t, k.Addrs(), topics.Definitions)
	if got := b.List("segment", "demo"); len(got) != 1 || got[0].ID != "s1" {
		t.Fatalf("late instance: %+v", got)
	}
	// Changes reach a running instance through Subscribe.
	var mu sync.Mutex
	seen := map[string]json.RawMessage{}
	b.Subscribe("segment", func(tenant, id string, v json.RawMessage) {
		mu.Lock()
		seen[tenant+"/"+id] = v
		mu.Unlock()
	})
	if err := a.Delete(ctx, "segment", "demo", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Get("segment", "demo", "s1"); ok {
		t.Fatal("deleted definition still readable")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		v, ok := seen["demo/s1"]
		mu.Unlock()
		if ok && v == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second instance never saw the delete: %v %s", ok, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInvalidNames(t *testing.T) {
	k, topics := testenv.Kafka(t)
	s := start(t, k.Addrs(), topics.Definitions)
	if err := s.Put(context.Background(), "segment", "a/b", "x", 1); err == nil {
		t.Fatal("tenant with / accepted")
	}
}
