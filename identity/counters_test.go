package identity

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestCountersMatchFullScript: daily event counters live in the profile
// hash; planned messages count, sum them on merges and trim the days
// that leave the lookback exactly as apply.lua does (state compared with
// the cache off and on), and ProfileEvents reads them.
func TestCountersMatchFullScript(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			base := newRig(t, rdb)
			rigs := []*rig{cacheRig(t, rdb, base, -1), cacheRig(t, rdb, base, 0)}
			for _, g := range rigs {
				now := fixedNow
				g.proc.clock = func() time.Time { return now }
				day := func(d int) time.Time { return fixedNow.AddDate(0, 0, d) }
				var evs []schemas.Event
				for d := -5; d <= 0; d++ {
					for _, name := range []string{"Viewed", "Paid"} {
						evs = append(evs,
							schemas.Event{Type: "track", MessageID: fmt.Sprintf("u%d%s", d, name), UserID: "u", Event: name, Timestamp: day(d)},
							schemas.Event{Type: "track", MessageID: fmt.Sprintf("v%d%s", d, name), AnonymousID: "v", Event: name, Timestamp: day(d)})
					}
				}
				// the visitor's counters add up into the user's
				evs = append(evs, schemas.Event{Type: "identify", MessageID: "link1", UserID: "u", AnonymousID: "v", Timestamp: day(0)})
				g.apply(t, evs...)
				// 100 days later: the first count of a new day drops the old days
				now = fixedNow.AddDate(0, 0, 100)
				g.apply(t,
					schemas.Event{Type: "track", MessageID: "w1", AnonymousID: "w", Event: "Paid", Timestamp: day(-3)},
					schemas.Event{Type: "track", MessageID: "late", UserID: "u", Event: "Paid", Timestamp: day(100)},
					schemas.Event{Type: "track", MessageID: "late2", UserID: "u", Event: "Paid", Timestamp: day(100)},
					schemas.Event{Type: "identify", MessageID: "link2", UserID: "u", AnonymousID: "w", Timestamp: day(100)},
				)
			}
			want := dumpNamespace(t, rdb, rigs[0].store.ns)
			if got := dumpNamespace(t, rdb, rigs[1].store.ns); !slices.Equal(got, want) {
				t.Errorf("planned counters differ from apply.lua's:\n%s", firstDiff(want, got))
			}
			if n := testutil.ToFloat64(rigs[1].proc.m.scripts.WithLabelValues("fast")); n < 20 {
				t.Errorf("only %v planned messages", n)
			}
			g := rigs[1]
			g.store.clock = func() time.Time { return fixedNow }
			p := g.profile(t, "user_id:u")
			ev, err := g.store.ProfileEvents(context.Background(), g.tenant, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			// read as of fixedNow (the lookback then covers the old days too)
			paid := ev.DailyCounts["Paid"]
			if paid[fixedNow.Format("2006-01-02")] != 0 || paid[fixedNow.AddDate(0, 0, 100).Format("2006-01-02")] != 2 {
				t.Errorf("Paid counts %v: want the old days trimmed and 2 on day 100", paid)
			}
			// w's count, older than the lookback when applied, was never counted
			if len(paid) != 1 {
				t.Errorf("Paid counts %v", paid)
			}
		})
	}
}

// TestMergeAddsCounters: a merge sums the daily counts of both profiles.
func TestMergeAddsCounters(t *testing.T) {
	for _, size := range []int{-1, 0} {
		t.Run(fmt.Sprint("cache=", size), func(t *testing.T) {
			rdb := testenv.Redis(t)
			g := cacheRig(t, rdb, newRig(t, rdb), size)
			g.apply(t,
				schemas.Event{Type: "track", MessageID: "a1", UserID: "u", Event: "Paid", Timestamp: at(1)},
				schemas.Event{Type: "track", MessageID: "a2", UserID: "u", Event: "Paid", Timestamp: at(2)},
				schemas.Event{Type: "track", MessageID: "b1", AnonymousID: "v", Event: "Paid", Timestamp: at(3)},
				schemas.Event{Type: "identify", MessageID: "j", UserID: "u", AnonymousID: "v", Timestamp: at(4)},
			)
			p := g.profile(t, "anonymous_id:v")
			ev, err := g.store.ProfileEvents(context.Background(), g.tenant, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := ev.DailyCounts["Paid"][fixedNow.Format("2006-01-02")]; n != 3 {
				t.Errorf("Paid %d, want 3 (2 + 1 merged)", n)
			}
		})
	}
}
