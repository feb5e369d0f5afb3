package identity

import (
	"context"
	"fmt"
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
				p := g.profile(t, "anonymous_id:visitor")
				ev, err := g.store.ProfileEvents(context.Background(), g.tenant, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, e := range ev.Recent {
					got = append(got, e.MessageID)
				}
				if strings.Join(got, ",") != "j5,u4,v3,u2" {
					t.Fatalf("timeline %v, want j5,u4,v3,u2", got)
				}
			})
		}
	}
}
