package replay_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
)

// hook is a progress writer that runs fn once, at the replay's first
// progress line (the last thing before the end-of-run steps in a short
// replay), while the replay holds its lock.
type hook struct {
	once sync.Once
	fn   func()
}

func (h *hook) Write(p []byte) (int, error) {
	h.once.Do(h.fn)
	return len(p), nil
}

// publishSome publishes n track events.
func publishSome(e *env, n int) {
	for i := range n {
		e.publish(schemas.Event{Type: "track", MessageID: fmt.Sprintf("m-%d", i), UserID: fmt.Sprintf("u-%d", i), Event: "E", Timestamp: day(1)})
	}
}

// TestSecondReplayRefusedWhileLocked: while another replay holds the
// target's lock, a replay of the same target is refused before it checks,
// clears (--resume) or writes anything, and so is --switch-to that target.
func TestSecondReplayRefusedWhileLocked(t *testing.T) {
	e := newEnv(t)
	publishSome(e, 3)
	ctx := context.Background()
	target := e.base + "g2"
	t.Cleanup(func() { cleanKeys(e.rdb, target+"*") })
	half := target + ":{" + e.tenant + "}:seg:p:half-built"
	e.rdb.HSet(ctx, half, "v", 1)
	key := replay.LockKey(e.base, target)
	holder := "token=first started=2026-11-28T12:00:00Z host=h pid=1"
	e.rdb.Set(ctx, key, holder, time.Minute)
	o := e.options()
	o.NoSwitch, o.Resume = true, true
	_, err := replay.Run(ctx, o)
	if !errors.Is(err, replay.ErrTargetLocked) || !strings.Contains(err.Error(), "token=first") {
		t.Fatalf("want ErrTargetLocked naming the holder, got %v", err)
	}
	if e.rdb.Exists(ctx, half).Val() != 1 {
		t.Fatal("the refused replay cleared the first one's target")
	}
	if got := e.rdb.Get(ctx, key).Val(); got != holder {
		t.Fatalf("lock now %q", got)
	}
	o.Target = target
	if err := replay.SwitchTo(ctx, o); !errors.Is(err, replay.ErrTargetLocked) {
		t.Fatalf("switch to a generation being built: %v", err)
	}
}

// TestLockHeldThenReleased: the lock exists while the replay runs and is
// gone at its end, so a following replay of the same target can run.
func TestLockHeldThenReleased(t *testing.T) {
	e, _, key := lockEnv(t)
	ctx := context.Background()
	var during string
	o := e.options()
	o.NoSwitch = true
	o.Progress = &hook{fn: func() { during = e.rdb.Get(ctx, key).Val() }}
	if _, err := replay.Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(during, "token=") {
		t.Fatalf("lock during the run: %q", during)
	}
	if n := e.rdb.Exists(ctx, key).Val(); n != 0 {
		t.Fatal("lock not released at the end")
	}
	o.Progress, o.Resume = nil, true
	if res, err := replay.Run(ctx, o); err != nil || res.Applied != 3 {
		t.Fatalf("following replay: %+v %v", res, err)
	}
}

// TestLockRenewedAndLost: the lock outlives its TTL while the replay runs
// (renewed); a replay whose lock is taken away stops with ErrLockLost and
// does not release the new holder's lock.
func TestLockRenewedAndLost(t *testing.T) {
	// (a TTL of 1.5 s, renewed every 0.5 s: a loaded machine would have
	// to hold the renewal back a whole second to lose it)
	defer replay.SetLockTTL(1500 * time.Millisecond)()
	e, _, key := lockEnv(t)
	ctx := context.Background()
	var held bool
	o := e.options()
	o.NoSwitch = true
	o.Progress = &hook{fn: func() {
		time.Sleep(3 * time.Second) // twice the TTL
		held = e.rdb.Exists(ctx, key).Val() == 1
		e.rdb.Set(ctx, key, "token=other", time.Minute)
		time.Sleep(1500 * time.Millisecond) // three renewal ticks
	}}
	if _, err := replay.Run(ctx, o); !errors.Is(err, replay.ErrLockLost) {
		t.Fatalf("want ErrLockLost, got %v", err)
	}
	if !held {
		t.Fatal("lock expired during the run: not renewed")
	}
	if got := e.rdb.Get(ctx, key).Val(); got != "token=other" {
		t.Fatalf("the other holder's lock is now %q", got)
	}
}

// TestSwitchRefusedWhenPointerMoved: the switch is a compare-and-set on
// the pointer: if it moved after the replay planned, the replay fails and
// the pointer is left alone.
func TestSwitchRefusedWhenPointerMoved(t *testing.T) {
	e := newEnv(t)
	publishSome(e, 3)
	ctx := context.Background()
	t.Cleanup(func() { cleanKeys(e.rdb, e.base+"g2*") })
	gk := replay.GenerationKey(e.base)
	o := e.options()
	o.Progress = &hook{fn: func() { e.rdb.Set(ctx, gk, e.base+"g5", 0) }}
	res, err := replay.Run(ctx, o)
	if !errors.Is(err, replay.ErrGenerationMoved) || res.Switched {
		t.Fatalf("want ErrGenerationMoved, got %+v %v", res, err)
	}
	if got := e.rdb.Get(ctx, gk).Val(); got != e.base+"g5" {
		t.Fatalf("pointer %q, want %sg5", got, e.base)
	}
	if err := replay.ActivateFrom(ctx, e.rdb, e.base, e.base, e.base+"g2"); !errors.Is(err, replay.ErrGenerationMoved) {
		t.Fatalf("ActivateFrom a stale generation: %v", err)
	}
	if err := replay.ActivateFrom(ctx, e.rdb, e.base, e.base+"g5", e.base+"g6"); err != nil {
		t.Fatal(err)
	}
	if got := e.rdb.Get(ctx, gk).Val(); got != e.base+"g6" {
		t.Fatalf("pointer %q, want %sg6", got, e.base)
	}
}

// lockEnv is a replay environment with three events published, its
// target generation (cleaned at the end) and that target's lock key.
func lockEnv(t *testing.T) (e *env, target, key string) {
	t.Helper()
	e = newEnv(t)
	publishSome(e, 3)
	target = e.base + "g2"
	t.Cleanup(func() { cleanKeys(e.rdb, target+"*") })
	return e, target, replay.LockKey(e.base, target)
}
