package identity

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestStagePublishesInBatchOrder: a batch staged while the previous one's
// output is not yet published leaves its own publishing to its finish when
// the previous publish failed, so one profile's updates keep their order
// and none is published twice; when nothing fails, both publish in the
// background, in order, and the finishes only mark them.
func TestStagePublishesInBatchOrder(t *testing.T) {
	for _, failFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("failFirst=%v", failFirst), func(t *testing.T) {
			g := newRig(t, testenv.Redis(t))
			calls := 0
			g.proc.produce = func(ctx context.Context, recs ...*kgo.Record) error {
				calls++
				if failFirst && calls == 1 {
					return errors.New("broker unavailable")
				}
				return g.out.produce(ctx, recs...)
			}
			batch := func(prefix string) []*kgo.Record {
				var recs []*kgo.Record
				for i := range 3 {
					recs = append(recs, g.record(t, schemas.Event{Type: "track", Event: "Tick", UserID: "7",
						MessageID: fmt.Sprintf("%s%d", prefix, i), Timestamp: at(len(prefix)*10 + i)}))
				}
				return recs
			}
			ctx := context.Background()
			finishA, err := g.proc.Stage(ctx, batch("a"))
			if err != nil {
				t.Fatal(err)
			}
			finishB, err := g.proc.Stage(ctx, batch("bb"))
			if err != nil {
				t.Fatal(err)
			}
			<-g.proc.lastStaged.done // B's publishing goroutine has ended
			before := len(eventIDs(g.out.updates(t)))
			if failFirst && before != 0 {
				t.Fatalf("%d updates published before the failed batch's finish", before)
			}
			if !failFirst && before != 6 {
				t.Fatalf("%d updates published in the background, want 6", before)
			}
			if err := finishA(ctx); err != nil {
				t.Fatal(err)
			}
			if err := finishB(ctx); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(eventIDs(g.out.updates(t))); got != "[a0 a1 a2 bb0 bb1 bb2]" {
				t.Fatalf("published %s, want a0..a2 then bb0..bb2, once each", got)
			}
		})
	}
}

// eventIDs lists the messageIds of the updates that carry an event.
func eventIDs(ups []schemas.ProfileUpdate) []string {
	var mids []string
	for _, u := range ups {
		if u.Event != nil {
			mids = append(mids, u.Event.MessageID)
		}
	}
	return mids
}

// failScripts fails the pipelines that run the identity script, from the
// (1-based) first one counted, n of them, the way mode says.
type failScripts struct {
	seen, first, n int
	mode           failMode
}

// failMode is how failScripts fails a pipeline.
type failMode int

const (
	refused   failMode = iota // before it reaches Redis
	replyLost                 // Redis ran it; the connection broke before the replies came
	busyReply                 // Redis ran it; the first call's first message says BUSY
)

func (m failMode) String() string { return [...]string{"refused", "replyLost", "busyReply"}[m] }

func (f *failScripts) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (f *failScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (f *failScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || (cmds[0].Name() != "evalsha" && cmds[0].Name() != "eval") {
			return next(ctx, cmds)
		}
		f.seen++ // (one apply goroutine at a time runs the scripts)
		if f.seen < f.first || f.seen >= f.first+f.n {
			return next(ctx, cmds)
		}
		if f.mode != refused {
			if err := next(ctx, cmds); err != nil {
				return err
			}
		}
		if f.mode == busyReply {
			cmds[0].(*redis.Cmd).SetVal([]any{int64(1), []any{[]any{int64(-1), "BUSY Redis is busy running a script"}}, int64(0)})
			return nil
		}
		err := errors.New("connection reset by peer")
		for _, c := range cmds {
			c.SetErr(err)
		}
		return err
	}
}

// TestFailedWritesAreAppliedAgainInOrder: a batch whose writes fail after
// Stage returned is applied again from the first chunk that failed, before
// the next batches' messages, however many attempts fail (the next
// batch's apply, which then leaves its own messages unapplied too, the
// batch after it, the finishes and their retries), whether Redis ran the
// failed pipeline or not (its replies lost, or a message answered BUSY
// after the call ran): every message is applied once, in order, and
// published once, in order.
func TestFailedWritesAreAppliedAgainInOrder(t *testing.T) {
	// first: the first pipeline that fails (2: the first batch's second
	// chunk; 3: its last)
	for _, c := range []struct {
		first, fails int
		mode         failMode
	}{{2, 1, refused}, {2, 2, refused}, {2, 3, refused}, {2, 1, replyLost}, {2, 2, replyLost}, {2, 1, busyReply}, {2, 2, busyReply},
		{3, 1, replyLost}, {3, 1, busyReply}} {
		fails := c.fails
		t.Run(fmt.Sprintf("first=%d/fails=%d/%v", c.first, fails, c.mode), func(t *testing.T) {
			rdb := testenv.Redis(t)
			hook := &failScripts{first: c.first, n: fails, mode: c.mode}
			rdb.AddHook(hook)
			g := newRig(t, rdb)
			const users = 3
			var want []string
			perUser := map[string][]string{} // user id -> its messages in order
			batch := func(prefix string, n int) []*kgo.Record {
				var recs []*kgo.Record
				for i := range n {
					mid, uid := fmt.Sprintf("%s%03d", prefix, i), fmt.Sprint("u", i%users)
					want = append(want, mid)
					perUser[uid] = append(perUser[uid], mid)
					recs = append(recs, g.record(t, schemas.Event{Type: "track", Event: "Tick", UserID: uid,
						MessageID: mid, Timestamp: fixedNow.Add(time.Duration(len(want)) * time.Millisecond)}))
				}
				return recs
			}
			ctx := context.Background()
			finishA, err := g.proc.Stage(ctx, batch("a", 2*chunkSize+10)) // three chunks, the second fails
			if err != nil {
				t.Fatal(err)
			}
			finishB, err := g.proc.Stage(ctx, batch("b", 20))
			if err != nil {
				t.Fatal(err)
			}
			finishC, err := g.proc.Stage(ctx, batch("c", 20))
			if err != nil {
				t.Fatal(err)
			}
			<-g.proc.lastStaged.applied // C's apply goroutine did what it could
			errs := 0
			for _, finish := range []func(context.Context) error{finishA, finishB, finishC} {
				for finish(ctx) != nil {
					if errs++; errs > fails {
						t.Fatalf("finish failed %d times for %d failed writes", errs, fails)
					}
				}
			}
			if hook.seen < c.first-1+fails {
				t.Fatalf("%d script pipelines ran, the failures were not reached", hook.seen)
			}
			if got := eventIDs(g.out.updates(t)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("published %d updates %v,\nwant %d %v", len(got), got, len(want), want)
			}
			// each user's count is exact and its timeline (newest first,
			// capped) ends with its latest messages in order
			for uid, mids := range perUser {
				evs := g.events(t, "user_id:"+uid)
				var count int64
				for _, n := range evs.DailyCounts["Tick"] {
					count += n
				}
				if count != int64(len(mids)) {
					t.Fatalf("user %s: counted %d events, want %d", uid, count, len(mids))
				}
				var got []string
				for i := len(evs.Recent) - 1; i >= 0; i-- {
					got = append(got, evs.Recent[i].MessageID)
				}
				if len(got) < 50 || fmt.Sprint(got) != fmt.Sprint(mids[len(mids)-len(got):]) {
					t.Fatalf("user %s: timeline %v,\nwant the end of %v", uid, got, mids)
				}
			}
		})
	}
}
