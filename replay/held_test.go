package replay_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/replay"
	"github.com/user360/user360/schemas"
)

// heldWorkload publishes a random workload in phases (each applied live
// before the next, so that the order across partitions is the log's):
// users and visitors appear, users act and change traits (removals, late
// writes that lose), visitors merge into users, messages are redelivered,
// users are deleted and come back. Timelines are capped at 4, so that held
// timelines overflow their cap. A second tenant receives the same messages
// except the deletions: its messages stay held after the first tenant's
// deletions stopped holding for that tenant.
func heldWorkload(e *env, rng *rand.Rand, users, visitors int) {
	pub := func(evs []schemas.Event, second bool) {
		e.publish(evs...)
		if second {
			e.publishFor(e.tenant+"-b", evs...)
		}
	}
	t0 := day(40)
	at := func(d, i int) time.Time { return t0.AddDate(0, 0, d).Add(time.Duration(i) * time.Second) }
	uid := func(i int) string { return fmt.Sprintf("user-%d", i) }
	var p []schemas.Event
	for i := range users {
		traits := map[string]any{"plan": []string{"free", "pro"}[i%2], "country": []string{"IN", "US", "BR"}[i%3]}
		if i%4 == 0 {
			traits["tags"] = []string{"early"}
		}
		p = append(p, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("h1-u-%d", i), UserID: uid(i), Traits: traits, Timestamp: at(0, i)})
	}
	for v := range visitors {
		p = append(p, schemas.Event{Type: "page", MessageID: fmt.Sprintf("h1-v-%d", v), AnonymousID: fmt.Sprintf("visitor-%d", v), Name: "Home", Timestamp: at(0, v)})
	}
	pub(p, true)
	e.settle()

	// users act: tracks, trait changes, removals, writes older than the
	// last one (they lose), visitors browse
	var redeliver []schemas.Event
	act := func(prefix string, d, n int) {
		p = p[:0]
		for k := range n {
			i := rng.IntN(users)
			mid := fmt.Sprintf("%s-%d", prefix, k)
			var ev schemas.Event
			switch x := rng.IntN(10); {
			case x < 6:
				ev = schemas.Event{Type: "track", MessageID: mid, UserID: uid(i), Event: []string{"Order Completed", "Product Viewed"}[rng.IntN(2)],
					Properties: map[string]any{"revenue": rng.IntN(200)}, Timestamp: at(d, k)}
			case x < 8:
				traits := map[string]any{"score": rng.IntN(100)}
				if rng.IntN(3) == 0 {
					traits["country"] = nil // removed
				}
				ev = schemas.Event{Type: "identify", MessageID: mid, UserID: uid(i), Traits: traits, Timestamp: at(d, k)}
			case x < 9:
				// late: older than what the profile holds
				ev = schemas.Event{Type: "identify", MessageID: mid, UserID: uid(i), Traits: map[string]any{"plan": "late"}, Timestamp: at(-5, k)}
			default:
				// a visitor that never merges: a merged one's page views
				// would reach its user's timeline from another partition,
				// in an order the log does not fix
				v := 3*rng.IntN(visitors/3) + 2
				ev = schemas.Event{Type: "page", MessageID: mid, AnonymousID: fmt.Sprintf("visitor-%d", v), Name: "Pricing", Timestamp: at(d, k)}
			}
			p = append(p, ev)
			if rng.IntN(15) == 0 {
				redeliver = append(redeliver, ev)
			}
		}
		pub(p, true)
		e.settle()
	}
	act("h2", 1, 15*users)

	// visitors merge into users (one visitor each)
	p = p[:0]
	for v := range visitors {
		if v%3 == 2 {
			continue
		}
		p = append(p, schemas.Event{Type: "identify", MessageID: fmt.Sprintf("h3-link-%d", v), UserID: uid(v % users), AnonymousID: fmt.Sprintf("visitor-%d", v),
			Traits: map[string]any{"firstName": fmt.Sprintf("N%d", v)}, Timestamp: at(2, v)})
	}
	pub(p, true)
	e.settle()

	act("h4", 3, 15*users)
	pub(redeliver, true) // the same messageIds again: nothing changes
	e.settle()

	// deletions, a late event of a deleted user (refused), users coming back
	e.publish(
		schemas.Event{Type: schemas.TypeDelete, MessageID: "h5-delete-1", UserID: uid(1), Timestamp: at(5, 0)},
		schemas.Event{Type: schemas.TypeDelete, MessageID: "h5-delete-2", UserID: uid(2), Timestamp: at(5, 1)},
	)
	e.settle()
	e.publish(
		schemas.Event{Type: "track", MessageID: "h6-late", UserID: uid(1), Event: "Order Completed", Timestamp: at(4, 0)},
		schemas.Event{Type: "identify", MessageID: "h6-back", UserID: uid(2), Traits: map[string]any{"plan": "pro"}, Timestamp: at(6, 0)},
	)
	e.settle()
	act("h7", 7, 5*users)
}

// TestReplayHoldsWritesAndEqualsLive: a replay into a new generation holds
// most messages' writes (identity.HoldWrites) and writes them at the end or
// when a script needs their profiles; the state it leaves must equal what
// the live pipeline, which runs every message through the scripts, left.
// Small batches make profiles move between shards and batches.
// The last case runs the replay with a profile cache of 5 entries: held
// profiles are not evicted, others are all the time.
func TestReplayHoldsWritesAndEqualsLive(t *testing.T) {
	for _, tc := range []struct {
		seed  uint64
		cache int
	}{{1, 0}, {2, 0}, {3, 5}} {
		seed := tc.seed
		t.Run(fmt.Sprintf("seed=%d,cache=%d", seed, tc.cache), func(t *testing.T) {
			e := newEnv(t)
			segments(e)
			cfg := identity.DefaultConfig()
			cfg.TimelineCap = 4
			e.liveWith(cfg)
			heldWorkload(e, rand.New(rand.NewPCG(seed, 7)), 30, 40)
			liveSnap := takeSnapshot(t, e.rdb, e.tenants, e.base, e.tenant)
			liveB := takeSnapshot(t, e.rdb, e.tenants, e.base, e.tenant+"-b")

			o := e.options()
			o.Identity.TimelineCap = 4
			o.Batch = 97
			if tc.cache > 0 {
				o.Identity.ProfileCacheSize = tc.cache
			}
			res, err := replay.Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cleanKeys(e.rdb, res.Plan.Target+"*") })
			// most tracks and trait changes of known users are held
			if res.Held < res.Applied/3 {
				t.Fatalf("held %d of %d messages", res.Held, res.Applied)
			}
			t.Logf("%d profiles; held %d of %d messages", len(liveSnap.Profiles), res.Held, res.Applied)
			replaySnap := takeSnapshot(t, e.rdb, e.tenants, res.Plan.Target, e.tenant)
			if d := diff(liveSnap, replaySnap); len(d) > 0 {
				t.Fatalf("replay differs from live in %d places:\n%s", len(d), strings.Join(d, "\n"))
			}
			if d := diff(liveB, takeSnapshot(t, e.rdb, e.tenants, res.Plan.Target, e.tenant+"-b")); len(d) > 0 || len(liveB.Profiles) < 40 {
				t.Fatalf("second tenant (%d profiles): replay differs from live in %d places:\n%s", len(liveB.Profiles), len(d), strings.Join(d, "\n"))
			}
		})
	}
}
