package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestCrashBetweenWriteAndCommit: a consumer killed after its Redis write
// and before publishing and committing is restarted; event counts are
// exact, nothing is applied twice, and every message's profile updates are
// published (with the same ids on redelivery).
func TestCrashBetweenWriteAndCommit(t *testing.T) {
	l := startLive(t, false)
	ctx := context.Background()
	const users, perUser = 20, 10
	var events []schemas.Event
	for i := range perUser {
		for u := range users {
			events = append(events, schemas.Event{
				Type: "track", MessageID: fmt.Sprintf("c-%d-%d", u, i), UserID: fmt.Sprintf("u%d", u),
				Event: "Tick", Timestamp: fixedNow.Add(time.Duration(i) * time.Second),
			})
		}
	}
	if err := l.pub.Publish(ctx, l.tenant, events, nil); err != nil {
		t.Fatal(err)
	}
	newSvc := func() *Service {
		cfg := l.svc.cfg
		cfg.MaxPollRecords = 30
		svc, err := New(cfg, l.svc.deps)
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	// First consumer: dies on its third batch right after the Redis write.
	crashed := newSvc()
	crashCtx, kill := context.WithCancel(ctx)
	var batches atomic.Int32
	crashed.afterApply = func() error {
		if batches.Add(1) == 3 {
			kill()
			return errors.New("killed")
		}
		return nil
	}
	if err := crashed.Run(crashCtx); err != nil {
		t.Fatal(err)
	}
	if batches.Load() < 3 {
		t.Fatalf("the consumer stopped after %d batches", batches.Load())
	}
	// Restart: the uncommitted batches are redelivered.
	restarted := newSvc()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- restarted.Run(runCtx) }()
	var stopped bool
	shutdown := func() {
		if !stopped {
			stopped = true
			stop()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	defer shutdown()
	store := l.svc.Store()
	eventually(t, "every message applied", func() bool {
		for u := range users {
			pid, err := store.Resolve(ctx, l.tenant, fmt.Sprintf("user_id:u%d", u))
			if err != nil {
				return false
			}
			ev, err := store.ProfileEvents(ctx, l.tenant, pid)
			if err != nil || ev.DailyCounts["Tick"]["2026-11-28"] < perUser {
				return false
			}
		}
		return true
	})
	recs := testenv.ReadAll(t, l.brokers, l.topics.ProfileUpdates, users*perUser+users, 10*time.Second)
	shutdown()
	for u := range users {
		pid, _ := store.Resolve(ctx, l.tenant, fmt.Sprintf("user_id:u%d", u))
		ev, _ := store.ProfileEvents(ctx, l.tenant, pid)
		if n := ev.DailyCounts["Tick"]["2026-11-28"]; n != perUser {
			t.Fatalf("u%d counted %d ticks, want %d", u, n, perUser)
		}
		if len(ev.Recent) != perUser {
			t.Fatalf("u%d timeline has %d entries, want %d", u, len(ev.Recent), perUser)
		}
	}
	updated := map[string]bool{}
	ids := map[string]string{}
	for _, r := range recs {
		var up schemas.ProfileUpdate
		if err := json.Unmarshal(r.Value, &up); err != nil {
			t.Fatal(err)
		}
		if up.Type == schemas.ProfileUpdated {
			updated[up.Event.MessageID] = true
			if prev, ok := ids[up.Event.MessageID]; ok && prev != up.MessageID {
				t.Fatalf("message %s republished with another id", up.Event.MessageID)
			}
			ids[up.Event.MessageID] = up.MessageID
		}
	}
	if len(updated) != users*perUser {
		t.Fatalf("%d messages have a profile.updated record, want %d", len(updated), users*perUser)
	}
}
