package activation

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// When Redis cannot park the jobs, the batch handler fails, so the consumer
// retries the batch and never commits past it.
func TestBatchFailsWhileRedisIsDown(t *testing.T) {
	srv, err := redisx.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := redisx.Connect(context.Background(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	e := newEnv(t, rdb)
	rc := newReceiver(t, nil)
	e.createDest(webhook(rc.URL, nil))
	rec := changeRecord(e.topics.SegmentChanges, e.change(schemas.SegmentEntered, "p1", "seg1", 1))
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.svc.handle(ctx, []*kgo.Record{rec}); err == nil {
		t.Fatal("batch reported parked while Redis is down")
	}
}

func TestDeleteDestinationPurgesItsState(t *testing.T) {
	e := newEnv(t, testenv.Redis(t))
	rc := newReceiver(t, nil)
	id, _ := e.createDest(webhook(rc.URL, nil))
	var recs []*kgo.Record
	for i, p := range []string{"p1", "p2", "p1"} {
		recs = append(recs, changeRecord(e.topics.SegmentChanges, e.change(schemas.SegmentEntered, p, "seg1", i)))
	}
	ctx := context.Background()
	if err := e.svc.handle(ctx, recs); err != nil {
		t.Fatal(err)
	}
	k := newKeys(e.svc.cfg.Namespace, e.tenant, id)
	if n := e.rdb.HLen(ctx, k.jobs()).Val(); n != 3 {
		t.Fatalf("parked %d", n)
	}
	if code := e.do("DELETE", "/v1/destinations/"+id, nil, nil); code != 204 {
		t.Fatal(code)
	}
	if n := e.rdb.Exists(ctx, k.jobs(), k.due(), k.stats(), k.queue("p1"), k.queue("p2")).Val(); n != 0 {
		t.Fatalf("%d keys left after delete", n)
	}
}

// Jobs parked after the DELETE (by an instance that had not noticed it
// yet) are purged by the delayed second purge.
func TestDeleteDestinationPurgesLateParkedJobs(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	e.svc.mu.Lock()
	e.svc.purgeDelay = 300 * time.Millisecond
	e.svc.mu.Unlock()
	rc := newReceiver(t, nil)
	id, _ := e.createDest(webhook(rc.URL, nil))
	if code := e.do("DELETE", "/v1/destinations/"+id, nil, nil); code != 204 {
		t.Fatal(code)
	}
	ctx := context.Background()
	k := newKeys(e.svc.cfg.Namespace, e.tenant, id)
	j := &job{ID: "late:" + id, Profile: "p9", Change: json.RawMessage(`{}`), EnqueuedAt: time.Now().UnixMilli()}
	c, _ := enqueueCall(k, j, time.Now())
	if _, err := runScripts(ctx, e.rdb, []scriptCall{c}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, func() bool {
		return e.rdb.Exists(ctx, k.jobs(), k.due(), k.stats(), k.queue("p9")).Val() == 0
	})
}
