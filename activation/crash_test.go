package activation

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// A crash between the webhook call and the settle in Redis (the delivery's
// "commit") leads to one redelivery with the same delivery id once the
// lease expires; a crash of the consumer between parking and committing
// parks nothing twice.
func TestCrashBetweenDeliveryAndCommitRedeliversWithSameID(t *testing.T) {
	e := newEnv(t, testenv.Redis(t), func(c *Config, _ *Deps) {
		c.Timeout = 200 * time.Millisecond
		c.Lease = 400 * time.Millisecond
	})
	rc := newReceiver(t, nil)
	id, _ := e.createDest(webhook(rc.URL, nil))
	waitFor(t, 5*time.Second, func() bool { return e.svc.dispatcher(e.tenant, id) != nil })
	d := e.svc.dispatcher(e.tenant, id)

	c := e.change(schemas.SegmentEntered, "p1", "seg1", 1)
	rec := changeRecord(e.topics.SegmentChanges, c)
	rec.Timestamp = time.Now()
	ctx := context.Background()
	// The consumer parks the batch, crashes before committing, and gets
	// the same batch again after the restart.
	for range 2 {
		if err := e.svc.handle(ctx, []*kgo.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := e.svc.StatsOf(ctx, e.tenant, id)
	if st.Pending != 1 {
		t.Fatalf("redelivered batch parked %d jobs", st.Pending)
	}
	// A dispatcher claims and calls the receiver, then dies before settling.
	jobs, err := claim(ctx, e.rdb, d.keys, time.Now(), e.svc.cfg.Lease, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %d", err, len(jobs))
	}
	if o := d.deliver(ctx, jobs[0]); o.mode != "ok" {
		t.Fatalf("first call: %+v", o)
	}
	// The lease is held: nobody else may claim it now.
	if again, _ := claim(ctx, e.rdb, d.keys, time.Now(), e.svc.cfg.Lease, 10); len(again) != 0 {
		t.Fatal("a leased queue head was claimed twice")
	}
	// The restarted role redelivers after the lease, once.
	e.start()
	waitFor(t, 5*time.Second, func() bool { return len(rc.delivered()) == 2 })
	time.Sleep(3 * e.svc.cfg.Lease)
	calls := rc.delivered()
	if len(calls) != 2 || calls[0].DeliveryID != calls[1].DeliveryID || calls[0].DeliveryID != c.MessageID+":"+id {
		t.Fatalf("calls: %+v", calls)
	}
	st, _ = e.svc.StatsOf(ctx, e.tenant, id)
	if st.Pending != 0 || st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestShutdownReleasesInFlightCalls(t *testing.T) {
	e := newEnv(t, testenv.Redis(t))
	started := make(chan struct{}, 1)
	rc := newReceiver(t, func(n int, _ *recvCall, _ http.ResponseWriter) int {
		if n == 1 {
			started <- struct{}{}
			time.Sleep(300 * time.Millisecond)
		}
		return http.StatusOK
	})
	id, _ := e.createDest(webhook(rc.URL, nil))
	e.start()
	e.produce(e.change(schemas.SegmentEntered, "p1", "seg1", 1))
	<-started
	e.stop()
	// The lease was given back: the head is due now, not in Timeout+30s.
	score, err := e.rdb.ZScore(context.Background(), newKeys(e.svc.cfg.Namespace, e.tenant, id).due(), "p1").Result()
	if err != nil || time.UnixMilli(int64(score)).After(time.Now()) {
		t.Fatalf("queue head after shutdown: %v %v", score, err)
	}
}

func TestMalformedRecordsAreDeadLettered(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	rc := newReceiver(t, nil)
	e.createDest(webhook(rc.URL, nil))
	bad := &kgo.Record{Topic: e.topics.SegmentChanges, Key: schemas.Key(e.tenant, "p9"), Value: []byte(`{"type":"segment.entered"`)}
	good := changeRecord(e.topics.SegmentChanges, e.change(schemas.SegmentExited, "p1", "seg1", 1))
	if err := e.prod.ProduceSync(context.Background(), bad, good).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return len(rc.delivered()) == 1 })
	recs := testenv.ReadAll(t, e.brokers, e.topics.DeadLetter, 1, 15*time.Second)
	if len(recs) != 1 {
		t.Fatalf("dead letters: %d read (%v counted malformed)", len(recs), testutil.ToFloat64(e.svc.metrics.malformed))
	}
	if err := schemas.Validate(schemas.FileDeadLetter, recs[0].Value); err != nil {
		t.Fatalf("dead letter: %v: %s", err, recs[0].Value)
	}
}
