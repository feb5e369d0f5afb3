package redisx_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/internal/testenv"
)

// ZPage returns, in (score, member bytes) order, every member that stays
// in the set through the scan exactly once, while members are added and
// removed between pages (the cursor's own member among them), with many
// members sharing a score.
func TestZPageStableUnderChanges(t *testing.T) {
	onEachBackend(t, func(t *testing.T, ctx context.Context, rdb redis.UniversalClient, key string) {
		rng := rand.New(rand.NewPCG(7, 8))
		name := func(i int) string {
			// mixed lengths and bytes above 127: byte order, not the locale's
			return fmt.Sprintf("%s%d", []string{"a", "B", "é", "ab", "a\x00"}[i%5], rng.IntN(1000))
		}
		score := map[string]float64{}
		for i := range 400 {
			m := name(i)
			score[m] = float64(rng.IntN(6) * 1000)
			if err := rdb.ZAdd(ctx, key, redis.Z{Score: score[m], Member: m}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		stays := map[string]bool{}
		for m := range score {
			stays[m] = true
		}
		seen := map[string]int{}
		cursor, pages := "", 0
		var last *redis.Z
		for {
			page, next, err := redisx.ZPage(ctx, rdb, key, cursor, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				seen[m]++
				s := rdb.ZScore(ctx, key, m).Val()
				if last != nil && (s < last.Score || s == last.Score && m <= last.Member.(string)) {
					t.Fatalf("page %d: %q (%v) after %q (%v)", pages, m, s, last.Member, last.Score)
				}
				last = &redis.Z{Score: s, Member: m}
			}
			pages++
			if next == "" {
				break
			}
			cursor = next
			// between pages: the cursor's member goes, others go, new ones come
			if len(page) > 0 && pages%2 == 0 {
				rdb.ZRem(ctx, key, page[len(page)-1])
				delete(stays, page[len(page)-1])
			}
			for range 3 {
				m := name(rng.IntN(5))
				if _, ok := score[m]; !ok {
					score[m] = float64(rng.IntN(6) * 1000)
					rdb.ZAdd(ctx, key, redis.Z{Score: score[m], Member: m})
				}
			}
			if victim := name(rng.IntN(5)); stays[victim] {
				rdb.ZRem(ctx, key, victim)
				delete(stays, victim)
			}
		}
		for m := range stays {
			if seen[m] != 1 {
				t.Errorf("%q: returned %d times", m, seen[m])
			}
		}
		for m, n := range seen {
			if n > 1 {
				t.Errorf("%q: returned %d times", m, n)
			}
		}
		if pages < 50 {
			t.Fatalf("only %d pages", pages)
		}
	})
}

// A cursor without ":" is a member of score 0 (the sets whose members
// all had score 0, paged by member); a malformed score is ErrBadCursor.
func TestZPageCursors(t *testing.T) {
	onEachBackend(t, func(t *testing.T, ctx context.Context, rdb redis.UniversalClient, key string) {
		rdb.ZAdd(ctx, key, redis.Z{Member: "p1"}, redis.Z{Member: "p3"}, redis.Z{Member: "p5"}, redis.Z{Score: 1795867200192, Member: "p0"}, redis.Z{Score: 1795867200192, Member: "p9"})
		got, next, err := redisx.ZPage(ctx, rdb, key, "p2", 2)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != "[p3 p5]" || next != "0:p5" {
			t.Fatalf("after p2: %v, next %q", got, next)
		}
		got, next, err = redisx.ZPage(ctx, rdb, key, next, 1)
		if err != nil || fmt.Sprint(got) != "[p0]" || next != "1795867200192:p0" {
			t.Fatalf("after p5: %v, next %q, %v", got, next, err)
		}
		got, next, err = redisx.ZPage(ctx, rdb, key, next, 2)
		if err != nil || fmt.Sprint(got) != "[p9]" || next != "" {
			t.Fatalf("after p0: %v, next %q, %v", got, next, err)
		}
		for _, bad := range []string{"x:p1", "NaN:p1", "+Inf:p1", ":p1"} {
			if _, _, err := redisx.ZPage(ctx, rdb, key, bad, 2); !errors.Is(err, redisx.ErrBadCursor) {
				t.Errorf("%q: %v", bad, err)
			}
		}
	})
}

// onEachBackend runs fn against every Redis the tests know, with a key of
// its own.
func onEachBackend(t *testing.T, fn func(t *testing.T, ctx context.Context, rdb redis.UniversalClient, key string)) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			fn(t, context.Background(), rdb, testenv.RedisNamespace(t, rdb)+"z")
		})
	}
}

// TestZRangeAfterDescending: in reverse the scan goes by score, then by
// member bytes, both descending; a position that is not a member resumes
// at its place; member "" resumes strictly below its score.
func TestZRangeAfterDescending(t *testing.T) {
	onEachBackend(t, func(t *testing.T, ctx context.Context, rdb redis.UniversalClient, key string) {
		rdb.ZAdd(ctx, key, redis.Z{Score: 5, Member: "a"}, redis.Z{Score: 5, Member: "c"}, redis.Z{Score: 5, Member: "ab"},
			redis.Z{Score: 7, Member: "z"}, redis.Z{Score: 3, Member: "q"})
		page := func(score, member string, n int) string {
			t.Helper()
			ms, ss, err := redisx.ZRangeAfter(ctx, rdb, key, true, score, member, n)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(ms, ss)
		}
		for _, c := range []struct{ score, member, want string }{
			{"", "", "[z c ab a q] [7 5 5 5 3]"},
			{"5", "c", "[ab a q] [5 5 3]"}, // a member: after it
			{"5", "b", "[ab a q] [5 5 3]"}, // not a member: at its place
			{"5", "", "[q] [3]"},           // strictly below the score
			{"7", "z", "[c ab a q] [5 5 5 3]"},
		} {
			if got := page(c.score, c.member, 10); got != c.want {
				t.Errorf("after (%s, %q): %s, want %s", c.score, c.member, got, c.want)
			}
		}
	})
}
