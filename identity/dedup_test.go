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

// TestDuplicateInOneBatch: a message that comes twice in one batch (one
// script call), on the planned path and through the full logic, is applied
// once; the second copy is a duplicate that republishes the first's
// output (the same update ids).
func TestDuplicateInOneBatch(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	g.apply(t, schemas.Event{Type: "identify", MessageID: "seed", UserID: "7", Timestamp: at(1)})
	track := schemas.Event{Type: "track", MessageID: "t1", UserID: "7", Event: "Paid", Timestamp: at(2)}
	ident := schemas.Event{Type: "identify", MessageID: "i1", UserID: "8", Traits: map[string]any{"plan": "pro"}, Timestamp: at(3)}
	before := len(g.out.updates(t))
	g.apply(t, track, ident, track, ident)
	ups := g.out.updates(t)[before:]
	var ids []string
	for _, u := range ups {
		ids = append(ids, u.MessageID)
	}
	// the first copies' updates (user.created with the identify), then the
	// same again for the second copies
	n := len(ids) / 2
	if len(ids) != 6 || fmt.Sprint(ids[:n]) != fmt.Sprint(ids[n:]) {
		t.Fatalf("published %v, want 3 updates, then the same 3 again", ids)
	}
	for typ, want := range map[string]float64{"track": 1, "identify": 1} {
		if n := testutil.ToFloat64(g.proc.m.messages.WithLabelValues(g.tenant, typ, "duplicate")); n != want {
			t.Errorf("%s: %v duplicates, want %v", typ, n, want)
		}
	}
	pe := g.events(t, ups[0].ProfileID)
	if n, paid := pe.DailyCounts["Paid"][fixedNow.Format("2006-01-02")], inTimeline(pe, "t1"); n != 1 || paid != 1 {
		t.Errorf("Paid counted %d times, %d times in the timeline, want 1 and 1", n, paid)
	}
}

// TestMarkingPublishedKeepsBucketsExpiring: marking outputs published in a
// dedup bucket that expired meanwhile (a duplicate found in the oldest
// bucket, published after its TTL ran out) writes the bucket anew with a
// TTL, not one that stays forever; a bucket that has a TTL keeps it.
func TestMarkingPublishedKeepsBucketsExpiring(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			g := newRig(t, rdb)
			ctx := context.Background()
			now := time.Now()
			cur, ttl := g.store.dedupBucket(now)
			live := g.store.keyDedup(g.tenant, cur)
			rdb.HSet(ctx, live, "m1", "{}")
			rdb.Expire(ctx, live, time.Duration(ttl)*time.Second)
			old := cur - dedupBuckets // expired: gone from Redis
			marks := []dedupMark{{tenant: g.tenant, mid: "m1", bucket: cur}, {tenant: g.tenant, mid: "m0", bucket: old}}
			if err := g.store.markPublished(ctx, marks, now); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{live, g.store.keyDedup(g.tenant, old)} {
				d := rdb.TTL(ctx, k).Val()
				if d <= 0 || d > time.Duration(ttl+60)*time.Second {
					t.Errorf("%s: TTL %v", k, d)
				}
			}
			if v := rdb.HGet(ctx, live, "m1").Val(); v != "1" {
				t.Errorf("mark %q", v)
			}
		})
	}
}
