package kafka_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
)

// commitRig is a stagedRig whose broker counts offset commit requests.
func commitRig(t *testing.T, records int) (*stagedRig, *atomic.Int64) {
	t.Helper()
	e, topics := testenv.Kafka(t)
	var commits atomic.Int64
	e.Cluster().ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		e.Cluster().KeepControl()
		commits.Add(1)
		return nil, nil, false
	})
	g := &stagedRig{brokers: e.Addrs(), topic: topics.Events, group: "g-" + testenv.Namespace(t)}
	cl := testenv.Client(t, g.brokers)
	g.adm = kadm.NewClient(cl)
	recs := make([]*kgo.Record, records)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: g.topic, Key: []byte("k"), Value: []byte{byte(i)}}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return g, &commits
}

func (g *stagedRig) consumerEvery(t *testing.T, h kafka.StagedHandler, maxPoll int, interval time.Duration) *kafka.Consumer {
	t.Helper()
	c, err := kafka.NewStagedConsumer(kafka.ConsumerConfig{
		Client: kafka.ClientConfig{Brokers: g.brokers}, Group: g.group, Topics: []string{g.topic},
		MaxPollRecords: maxPoll, CommitInterval: interval,
	}, h, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConsumerCommitsFinishedBatchesTogether: batches' offsets are
// committed every CommitInterval, not one request per batch; leaving the
// group commits what was finished since.
func TestConsumerCommitsFinishedBatchesTogether(t *testing.T) {
	const total = 200
	g, commits := commitRig(t, total)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var batches atomic.Int64
	h := func(_ context.Context, recs []*kgo.Record) (func(context.Context) error, error) {
		batches.Add(1)
		last := recs[len(recs)-1].Offset == total-1
		return func(context.Context) error {
			if last {
				cancel() // stop once every batch is finished
			}
			return nil
		}, nil
	}
	if err := g.consumerEvery(t, h, 10, time.Hour).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if b := batches.Load(); b < total/10 {
		t.Fatalf("%d batches", b)
	}
	if n := commits.Load(); n > 2 {
		t.Fatalf("%d commit requests for %d batches, want the one made when leaving", n, batches.Load())
	}
	if got := g.committed(t, 0); got != total {
		t.Fatalf("committed %d after leaving, want %d", got, total)
	}
}

// TestConsumerCommitsWhileRunning: finished batches are committed every
// CommitInterval while the consumer keeps running.
func TestConsumerCommitsWhileRunning(t *testing.T) {
	const total = 50
	g, _ := commitRig(t, total)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := func(_ context.Context, recs []*kgo.Record) (func(context.Context) error, error) {
		return nil, nil
	}
	c := g.consumerEvery(t, h, 10, 100*time.Millisecond)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	deadline := time.Now().Add(15 * time.Second)
	committed := func() int64 {
		offs, err := g.adm.FetchOffsets(context.Background(), g.group)
		if o, ok := offs.Lookup(g.topic, 0); err == nil && ok {
			return o.At
		}
		return -1 // (the group does not exist before its first commit)
	}
	for committed() != total {
		if time.Now().After(deadline) {
			t.Fatalf("committed %d while running, want %d", committed(), total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
