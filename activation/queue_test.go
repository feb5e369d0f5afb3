package activation

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/user360/user360/internal/testenv"
)

// The queue scripts hold on the real server and on miniredis (user360 dev).
func TestQueueScriptsOnBothBackends(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			ctx := context.Background()
			k := newKeys(testenv.Namespace(t), testenv.Tenant(t), "dst_1")
			now := time.UnixMilli(1_800_000_000_000)
			var calls []scriptCall
			for i := range 3 {
				j := &job{ID: "m" + strconv.Itoa(i) + ":dst_1", Profile: "p1", Change: json.RawMessage(`{}`), EnqueuedAt: now.UnixMilli()}
				c, _ := enqueueCall(k, j, now)
				calls = append(calls, c, c) // parked twice: idempotent
			}
			j2 := &job{ID: "x:dst_1", Profile: "p2", Change: json.RawMessage(`{}`), EnqueuedAt: now.UnixMilli()}
			c, _ := enqueueCall(k, j2, now)
			calls = append(calls, c)
			if _, err := runScripts(ctx, rdb, calls); err != nil {
				t.Fatal(err)
			}
			if n := rdb.HLen(ctx, k.jobs()).Val(); n != 4 {
				t.Fatalf("jobs %d", n)
			}
			jobs, err := claim(ctx, rdb, k, now, time.Minute, 10)
			if err != nil || len(jobs) != 2 {
				t.Fatalf("claim: %v %d", err, len(jobs))
			}
			heads := map[string]*job{}
			for _, j := range jobs {
				heads[j.Profile] = j
			}
			if heads["p1"].ID != "m0:dst_1" {
				t.Fatalf("head of p1: %s", heads["p1"].ID)
			}
			// Leased: nothing more is due.
			if again, _ := claim(ctx, rdb, k, now, time.Minute, 10); len(again) != 0 {
				t.Fatal("claimed a leased head")
			}
			settle := func(o *outcome, at time.Time) {
				t.Helper()
				sc, err := settleCall(k, o, at)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := runScripts(ctx, rdb, []scriptCall{sc}); err != nil {
					t.Fatal(err)
				}
			}
			// p1's head fails retryably; p2 is delivered.
			heads["p1"].Attempts = 1
			settle(&outcome{mode: "retry", job: heads["p1"], dueAt: now.Add(time.Second)}, now)
			settle(&outcome{mode: "ok", job: heads["p2"], latencyMs: 30}, now)
			if jobs, _ := claim(ctx, rdb, k, now.Add(500*time.Millisecond), time.Minute, 10); len(jobs) != 0 {
				t.Fatalf("retry claimed before due: %d", len(jobs))
			}
			jobs, _ = claim(ctx, rdb, k, now.Add(time.Second), time.Minute, 10)
			if len(jobs) != 1 || jobs[0].ID != "m0:dst_1" || jobs[0].Attempts != 1 {
				t.Fatalf("retry: %+v", jobs)
			}
			// It fails for good; the next of p1 becomes due.
			settle(&outcome{mode: "fail", job: jobs[0], reason: "400", status: 400, retrying: true}, now.Add(time.Second))
			jobs, _ = claim(ctx, rdb, k, now.Add(time.Second), time.Minute, 10)
			if len(jobs) != 1 || jobs[0].ID != "m1:dst_1" {
				t.Fatalf("after failure: %+v", jobs)
			}
			// A stale settle of another id is ignored.
			settle(&outcome{mode: "ok", job: &job{ID: "m2:dst_1", Profile: "p1"}}, now)
			if n := rdb.LLen(ctx, k.queue("p1")).Val(); n != 2 {
				t.Fatalf("stale settle popped: %d left", n)
			}
			m := rdb.HGetAll(ctx, k.stats()).Val()
			if m["delivered"] != "1" || m["failed"] != "1" || m["retrying"] != "0" || m["lat_le_50"] != "1" {
				t.Fatalf("stats %v", m)
			}
			if n := rdb.HLen(ctx, k.fail()).Val(); n != 1 {
				t.Fatalf("failures %d", n)
			}
			// Replay puts the failure behind p1's queue.
			rc, err := runScripts(ctx, rdb, []scriptCall{{s: scriptReplay, keys: []string{k.queue("p1"), k.jobs(), k.due(), k.fail(), k.failz()},
				args: []any{"m0:dst_1", "p1", `{"id":"m0:dst_1","profileId":"p1"}`, now.UnixMilli()}}})
			if err != nil || rc[0].Val() != int64(1) {
				t.Fatalf("replay: %v %v", err, rc[0].Val())
			}
			if q := rdb.LRange(ctx, k.queue("p1"), 0, -1).Val(); len(q) != 3 || q[2] != "m0:dst_1" {
				t.Fatalf("queue after replay %v", q)
			}
		})
	}
}

func TestScriptsReloadAfterFlushOfTheScriptCache(t *testing.T) {
	rdb := testenv.MiniRedis(t) // SCRIPT FLUSH only on the throwaway server
	ctx := context.Background()
	k := newKeys("ns", "t1", "d1")
	j := &job{ID: "a:d1", Profile: "p", Change: json.RawMessage(`{}`)}
	c, _ := enqueueCall(k, j, time.Now())
	if _, err := runScripts(ctx, rdb, []scriptCall{c}); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	j.ID = "b:d1"
	c, _ = enqueueCall(k, j, time.Now())
	if _, err := runScripts(ctx, rdb, []scriptCall{c}); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	if n := rdb.LLen(ctx, k.queue("p")).Val(); n != 2 {
		t.Fatalf("queue %d", n)
	}
}

// The whole role works on miniredis too, as `user360 dev` runs it.
func TestDeliveryOnMiniredis(t *testing.T) {
	e := newEnv(t, testenv.MiniRedis(t)).start()
	rc := newReceiver(t, func(n int, _ *recvCall, _ http.ResponseWriter) int {
		if n == 1 {
			return 500
		}
		return 200
	})
	e.createDest(webhook(rc.URL, nil))
	e.produce(e.change("segment.entered", "p1", "s", 1), e.change("segment.exited", "p1", "s", 2))
	waitFor(t, 10*time.Second, func() bool { return len(rc.firstDelivered()) == 2 })
	d := rc.firstDelivered()
	if d[0].DeliveryID >= d[1].DeliveryID { // sc-s-p1-1 before sc-s-p1-2
		t.Fatalf("order: %s then %s; calls:%s", d[0].DeliveryID, d[1].DeliveryID, rc.callLog())
	}
}
