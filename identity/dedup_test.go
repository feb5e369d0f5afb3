package identity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestDedupRemembersForDedupTTL: a message redelivered up to DedupTTL
// later, across dedup bucket boundaries, changes nothing (through the
// planned path and the full logic); the buckets forget it once no
// bucket a later message checks holds it.
func TestDedupRemembersForDedupTTL(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			g := newRig(t, b.Client(t))
			now := fixedNow
			g.proc.clock = func() time.Time { return now }
			ttl := g.store.cfg.DedupTTL
			evs := []schemas.Event{
				{Type: "identify", MessageID: "d1", UserID: "7", Traits: map[string]any{"plan": "free"}, Timestamp: at(1)},
				{Type: "track", MessageID: "d2", UserID: "7", Event: "Paid", Timestamp: at(2)},
			}
			g.apply(t, evs...)
			if n := testutil.ToFloat64(g.proc.m.scripts.WithLabelValues("fast")); n < 1 {
				t.Fatal("d2 did not take the planned path")
			}
			dups := func() float64 {
				return testutil.ToFloat64(g.proc.m.messages.WithLabelValues(g.tenant, "identify", "duplicate")) +
					testutil.ToFloat64(g.proc.m.messages.WithLabelValues(g.tenant, "track", "duplicate"))
			}
			for k, later := range []time.Duration{time.Hour, ttl / 4, ttl/2 + time.Minute, ttl - time.Second} {
				now = fixedNow.Add(later)
				g.proc.cache = newProfileCache(0) // the full logic too
				if k%2 == 0 {
					g.proc.cache = newProfileCache(100)
				}
				g.apply(t, evs...)
				if got, want := dups(), float64(2*(k+1)); got != want {
					t.Fatalf("%v later: %v duplicates, want %v", later, got, want)
				}
			}
			ctx := context.Background()
			ev, err := g.store.ProfileEvents(ctx, g.tenant, g.profile(t, "user_id:7").ID)
			if err != nil || len(ev.Recent) != 2 || ev.DailyCounts["Paid"][at(2).Format("2006-01-02")] != 1 {
				t.Fatalf("timeline %+v, %v: want the 2 events once", ev, err)
			}
			for _, c := range []struct {
				later time.Duration
				want  bool
			}{{ttl, true}, {ttl * 5 / 4, false}} {
				got, err := g.store.applied(ctx, g.tenant, "d2", fixedNow.Add(c.later))
				if err != nil || got != c.want {
					t.Errorf("%v later: remembered %v (%v), want %v", c.later, got, err, c.want)
				}
			}
		})
	}
}

// applied (tests) reports whether a message id is marked in one of the dedup
// buckets that a message arriving now checks.
func (s *Store) applied(ctx context.Context, tenant, mid string, now time.Time) (bool, error) {
	b, _ := s.dedupBucket(now)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.BoolCmd, dedupBuckets)
	for k := range cmds {
		cmds[k] = pipe.HExists(ctx, s.keyDedup(tenant, b-int64(k)), mid)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("identity: read dedup: %w", err)
	}
	for _, c := range cmds {
		if c.Val() {
			return true, nil
		}
	}
	return false, nil
}
