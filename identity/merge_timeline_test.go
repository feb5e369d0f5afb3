package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestMergedTimelineIsNewestFirst: a merge interleaves the two timelines
// by event time, newest first, and keeps the cap; through the planned
// path and the full logic, on both Redis backends.
func TestMergedTimelineIsNewestFirst(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		for _, size := range []int{-1, 100} {
			t.Run(fmt.Sprintf("%s/cache=%d", b.Name, size), func(t *testing.T) {
				g := newRig(t, b.Client(t))
				g.store.cfg.TimelineCap = 4
				g.proc.cache = newProfileCache(size)
				g.apply(t,
					schemas.Event{Type: "page", MessageID: "v1", AnonymousID: "visitor", Name: "Home", Timestamp: at(1)},
					schemas.Event{Type: "track", MessageID: "u2", UserID: "u", Event: "A", Timestamp: at(2)},
					schemas.Event{Type: "page", MessageID: "v3", AnonymousID: "visitor", Name: "Pricing", Timestamp: at(3)},
					schemas.Event{Type: "track", MessageID: "u4", UserID: "u", Event: "B", Timestamp: at(4)},
				)
				g.apply(t, schemas.Event{Type: "identify", MessageID: "j5", UserID: "u", AnonymousID: "visitor", Timestamp: at(5)})
				if got := timelineIDs(g.events(t, "anonymous_id:visitor")); strings.Join(got, ",") != "j5,u4,v3,u2" {
					t.Fatalf("timeline %v, want j5,u4,v3,u2", got)
				}
			})
		}
	}
}

// TestMergedTimelinesInAnyOrder: whatever order the two profiles' events
// arrived in (a late arrival leaves a timeline out of order, marked "_oo";
// the cap keeps the latest arrivals), however long each timeline is (a
// few entries go in place into a timeline in order, read only as far as
// they go; otherwise all are sorted), and whichever way the merge goes,
// the merged timeline is the two timelines' entries newest first, cut at
// the cap.
func TestMergedTimelinesInAnyOrder(t *testing.T) {
	ctx := context.Background()
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			for round := range 96 {
				g := newRig(t, b.Client(t))
				g.store.cfg.TimelineCap = []int{3, 6, 100}[round%3]
				nv, nu := 1+rng.IntN(12), rng.IntN(13)
				switch round % 8 {
				case 2, 3:
					nu = 20 + rng.IntN(40) // the survivor's: read in chunks when in order
				case 6, 7:
					nv = 20 + rng.IntN(40) // the absorbed one's: read so, then renamed
				}
				// the user first; then distinct minutes, in time order every
				// other round, else shuffled: the arrival order
				evs := []schemas.Event{{Type: "identify", MessageID: "u0", UserID: "u", Timestamp: at(0)}}
				mins := rng.Perm(nv + nu)
				if round%2 == 0 {
					sort.Ints(mins)
				}
				for i, m := range mins {
					e := schemas.Event{Type: "track", MessageID: fmt.Sprintf("m%02d", m), Event: "E", Timestamp: at(m + 1)}
					if i%2 == 0 && i/2 < nv || i/2 >= nu {
						e.AnonymousID = "visitor"
					} else {
						e.UserID = "u"
					}
					evs = append(evs, e)
				}
				g.apply(t, evs...)
				// the two timelines as stored, merged as the old way did:
				// all entries sorted, newest first
				var all []string
				for _, ref := range []string{"anonymous_id:visitor", "user_id:u"} {
					l, err := g.rdb.LRange(ctx, g.store.keyTimeline(g.tenant, g.profile(t, ref).ID), 0, -1).Result()
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, l...)
				}
				sort.Sort(sort.Reverse(sort.StringSlice(all)))
				want := append([]string{"zz"}, timelineIDs(schemas.ProfileEvents{Recent: decodeTimeline(all)})...)
				want = want[:min(len(want), g.store.cfg.TimelineCap)]

				g.apply(t, schemas.Event{Type: "identify", MessageID: "zz", UserID: "u", AnonymousID: "visitor", Timestamp: at(100)})
				if got := timelineIDs(g.events(t, "anonymous_id:visitor")); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Fatalf("round %d (%d visitor events, %d user events, cap %d): timeline %v, want %v",
						round, nv, nu, g.store.cfg.TimelineCap, got, want)
				}
				// as stored, too: in order (later trims cut the oldest), and
				// not marked out of order (a later merge would sort it again)
				pid := g.profile(t, "user_id:u").ID
				if oo, err := g.rdb.HExists(ctx, g.store.keyProfile(g.tenant, pid), "_oo").Result(); err != nil || oo {
					t.Fatalf("round %d: merged timeline marked out of order (%v)", round, err)
				}
				stored, err := g.rdb.LRange(ctx, g.store.keyTimeline(g.tenant, pid), 0, -1).Result()
				if err != nil {
					t.Fatal(err)
				}
				if !sort.IsSorted(sort.Reverse(sort.StringSlice(stored))) {
					t.Fatalf("round %d (%d visitor events, %d user events, cap %d): stored out of order: %v",
						round, nv, nu, g.store.cfg.TimelineCap, timelineIDs(schemas.ProfileEvents{Recent: decodeTimeline(stored)}))
				}
			}
		})
	}
}

// timelineIDs lists a timeline's messageIds, newest first.
func timelineIDs(ev schemas.ProfileEvents) []string {
	ids := make([]string, 0, len(ev.Recent))
	for _, e := range ev.Recent {
		ids = append(ids, e.MessageID)
	}
	return ids
}
