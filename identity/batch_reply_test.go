package identity

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestDecodeCallStopsAtFailures: a call's reply says how many messages it
// processed; a message that failed for good carries ErrBadMessage, the
// ones after a stop did not run, and a Redis error such as OOM fails the
// whole batch (to be retried).
func TestDecodeCallStopsAtFailures(t *testing.T) {
	in := make([]applyInput, 4)
	in[0].fast = &fastPlan{out: luaOut{S: outOK, P: "p1"}}
	call := []int{0, 1, 2, 3}
	reply := func(v any) *redis.Cmd {
		c := redis.NewCmd(nil)
		c.SetVal(v)
		return c
	}

	res := make([]applyResult, 4)
	err := decodeCall(reply([]any{int64(2), []any{
		int64(0), // applied as planned
		[]any{int64(-1), "user_script:12: attempt to index a nil value"},
	}}), call, in, res, 7)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Out.P != "p1" || res[0].NotRun || res[0].Bucket != 7 {
		t.Errorf("planned message: %+v", res[0])
	}
	if !errors.Is(res[1].Err, ErrBadMessage) || res[1].NotRun {
		t.Errorf("failed message: %+v", res[1])
	}
	if !res[2].NotRun || !res[3].NotRun {
		t.Errorf("messages after the stop ran: %+v %+v", res[2], res[3])
	}

	res = make([]applyResult, 4)
	err = decodeCall(reply([]any{int64(1), []any{
		[]any{int64(1), "1", int64(5)}, // applied before, published, in bucket 5
	}}), call, in, res, 7)
	if err != nil || !res[0].Dup || !res[0].Published || res[0].Bucket != 5 || !res[1].NotRun {
		t.Errorf("duplicate: %+v, %v", res[0], err)
	}

	res = make([]applyResult, 4)
	err = decodeCall(reply([]any{int64(1), []any{
		[]any{int64(-1), "OOM command not allowed when used memory > 'maxmemory'."},
	}}), call, in, res, 7)
	if err == nil {
		t.Error("OOM did not fail the batch")
	}

	if err := decodeCall(reply([]any{int64(3), []any{}}), call, in, make([]applyResult, 4), 7); !errors.Is(err, ErrScript) {
		t.Errorf("a reply with fewer replies than applied messages: %v", err)
	}
}

// A Redis that forgot the script (restart, SCRIPT FLUSH) gets it loaded
// again and the batch applied.
func TestScriptLoadedAgainAfterFlush(t *testing.T) {
	rdb := testenv.MiniRedis(t) // SCRIPT FLUSH only on a throwaway server
	g := newRig(t, rdb)
	ctx := context.Background()
	for i := range 2 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		rec := g.record(t, schemas.Event{Type: "identify", MessageID: fmt.Sprint("m-", i), UserID: fmt.Sprint("u-", i)})
		if err := g.proc.Handle(ctx, []*kgo.Record{rec}); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if _, err := g.store.Resolve(ctx, g.tenant, fmt.Sprint("user_id:u-", i)); err != nil {
			t.Fatalf("batch %d not applied: %v", i, err)
		}
	}
}

// TestScriptStopsAtAFailingMessage: in the real script, a message that
// raises an error replies {-1, error} and stops its call there; the
// messages before it stay applied and marked, the ones after it do not
// run; a call without failures applies every message.
func TestScriptStopsAtAFailingMessage(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	ctx := context.Background()
	now := g.proc.clock()
	bucket, ttl := g.store.dedupBucket(now)
	msg := func(mid, uid string) *scriptMsg {
		m, _, err := g.store.prepare(g.tenant, g.store.rulesFor(g.tenant), &schemas.Event{Type: "track", MessageID: mid, UserID: uid, Event: "Paid"}, now)
		if err != nil {
			t.Fatal(err)
		}
		return &m
	}
	run := func(args ...any) []any {
		t.Helper()
		head := g.store.appendCallHead(nil, g.tenant, "", bucket, ttl)
		v, err := applyScript.Run(ctx, g.rdb, []string{g.store.keyProfiles(g.tenant)}, append(head, args...)...).Slice()
		if err != nil || len(v) != 3 {
			t.Fatal(v, err)
		}
		return v
	}
	v := run("a", "m1", scriptPayload(msg("m1", "7")), "a", "m2", `{"mid":`, "a", "m3", scriptPayload(msg("m3", "8")))
	replies, _ := v[1].([]any)
	if v[0] != int64(2) || len(replies) != 2 {
		t.Fatalf("applied %v, replies %v: want the first two processed", v[0], replies)
	}
	if r, _ := replies[1].([]any); len(r) != 2 || r[0] != int64(-1) {
		t.Fatalf("the failing message replied %v", replies[1])
	}
	dd := g.store.keyDedup(g.tenant, bucket)
	if g.rdb.HExists(ctx, dd, "m1").Val() != true || g.rdb.HExists(ctx, dd, "m2").Val() || g.rdb.HExists(ctx, dd, "m3").Val() {
		t.Fatal("marks: want m1 only")
	}
	if v := run("a", "m3", scriptPayload(msg("m3", "8")), "a", "m4", scriptPayload(msg("m4", "8"))); v[0] != int64(2) {
		t.Fatalf("a call without failures applied %v of 2", v[0])
	}
}
