package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
)

// stagedRig is a topic with records on one broker and a staged consumer's
// view of it: which batches were applied and finished, in what order, and
// what the group had committed when each finish began.
type stagedRig struct {
	brokers []string
	topic   string
	group   string
	adm     *kadm.Client
}

func newStagedRig(t *testing.T, records int) *stagedRig {
	t.Helper()
	e, topics := testenv.Kafka(t)
	g := &stagedRig{brokers: e.Addrs(), topic: topics.Events, group: "g-" + testenv.Namespace(t)}
	cl := testenv.Client(t, g.brokers)
	g.adm = kadm.NewClient(cl)
	recs := make([]*kgo.Record, records)
	for i := range recs {
		// one key: every record in one partition, so offsets order them
		recs[i] = &kgo.Record{Topic: g.topic, Key: []byte("k"), Value: []byte(strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return g
}

// committed is the group's committed offset of the records' partition
// (-1: none).
func (g *stagedRig) committed(t *testing.T, partition int32) int64 {
	t.Helper()
	offs, err := g.adm.FetchOffsets(context.Background(), g.group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(g.topic, partition); ok {
		return o.At
	}
	return -1
}

func (g *stagedRig) consumer(t *testing.T, h kafka.StagedHandler, maxPoll int) *kafka.Consumer {
	t.Helper()
	c, err := kafka.NewStagedConsumer(kafka.ConsumerConfig{
		Client: kafka.ClientConfig{Brokers: g.brokers}, Group: g.group, Topics: []string{g.topic},
		MaxPollRecords: maxPoll, RetryBackoff: time.Millisecond, ShutdownGrace: 2 * time.Second,
	}, h, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStagedConsumerFinishesInOrderAndCommitsAfterFinish: batches are
// applied while earlier ones finish, finishes run in batch order (one
// failing twice is retried before the next runs), and no offset of a
// batch is committed before its finish returned.
func TestStagedConsumerFinishesInOrderAndCommitsAfterFinish(t *testing.T) {
	const total = 300
	g := newStagedRig(t, total)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var applied, finished []int64 // first offset of each batch
	var overlapped atomic.Bool
	var running atomic.Int32 // finishes running now
	failures := map[int64]int{}
	next := int64(0) // the offset the next batch must start at
	done := make(chan struct{})
	var problems []string
	h := func(_ context.Context, recs []*kgo.Record) (func(context.Context) error, error) {
		first, last := recs[0].Offset, recs[len(recs)-1].Offset
		mu.Lock()
		if first != next {
			problems = append(problems, fmt.Sprintf("batch applied from %d, want %d", first, next))
		}
		next = last + 1
		applied = append(applied, first)
		if running.Load() > 0 {
			overlapped.Store(true)
		}
		mu.Unlock()
		return func(context.Context) error {
			running.Add(1)
			defer running.Add(-1)
			if c := g.committed(t, recs[0].Partition); c > first {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("offset %d committed before the finish of the batch at %d", c, first))
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond) // publishing
			mu.Lock()
			defer mu.Unlock()
			if first == 40 && failures[first] < 2 {
				failures[first]++
				return errors.New("broker unavailable")
			}
			finished = append(finished, first)
			if last == total-1 {
				close(done)
			}
			return nil
		}, nil
	}
	c := g.consumer(t, h, 20)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("not every batch finished")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	if fmt.Sprint(applied) != fmt.Sprint(finished) {
		t.Fatalf("finished in another order than applied:\napplied  %v\nfinished %v", applied, finished)
	}
	if failures[40] != 2 {
		t.Fatalf("the failing finish ran %d failed times, want 2 then a success", failures[40])
	}
	if !overlapped.Load() {
		t.Fatal("no batch was applied while an earlier one was finishing")
	}
	if got := g.committed(t, 0); got != total {
		t.Fatalf("committed %d after the last finish, want %d", got, total)
	}
}

// TestStagedConsumerShutdownCommitsNothingAfterAnUnfinishedBatch: when
// the loop stops while a finish fails, that batch and every later one
// stay uncommitted (their offsets would cover it), and a new member gets
// them again.
func TestStagedConsumerShutdownCommitsNothingAfterAnUnfinishedBatch(t *testing.T) {
	const total = 100
	g := newStagedRig(t, total)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopAt atomic.Int64
	stopAt.Store(-1)
	h := func(_ context.Context, recs []*kgo.Record) (func(context.Context) error, error) {
		first := recs[0].Offset
		return func(context.Context) error {
			if first >= 50 && stopAt.CompareAndSwap(-1, first) {
				time.Sleep(20 * time.Millisecond) // later batches queue up
				cancel()                          // the process is told to stop while this batch fails
				return errors.New("broker unavailable")
			}
			return nil // later batches would finish
		}, nil
	}
	if err := g.consumer(t, h, 10).Run(ctx); err != nil {
		t.Fatal(err)
	}
	at := stopAt.Load()
	if at < 0 {
		t.Fatal("no finish failed")
	}
	if got := g.committed(t, 0); got > at {
		t.Fatalf("committed %d, past the unfinished batch at %d", got, at)
	}
	// A new member starts where the commits end, at or before the batch.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	var firstSeen atomic.Int64
	firstSeen.Store(-1)
	h2 := func(_ context.Context, recs []*kgo.Record) (func(context.Context) error, error) {
		firstSeen.CompareAndSwap(-1, recs[0].Offset)
		if recs[len(recs)-1].Offset == total-1 {
			cancel2()
		}
		return nil, nil
	}
	if err := g.consumer(t, h2, 10).Run(ctx2); err != nil {
		t.Fatal(err)
	}
	if f := firstSeen.Load(); f < 0 || f > at {
		t.Fatalf("the next member started at %d, want at or before %d", f, at)
	}
}

// TestStagedConsumerShutdownGraceCancelsAStuckFinish: a finish that does
// not return by itself is cancelled ShutdownGrace after the loop's context
// ended, so Run returns, and its batch stays uncommitted.
func TestStagedConsumerShutdownGraceCancelsAStuckFinish(t *testing.T) {
	g := newStagedRig(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once sync.Once
	h := func(_ context.Context, recs []*kgo.Record) (func(context.Context) error, error) {
		return func(fctx context.Context) error {
			once.Do(func() { close(started) })
			<-fctx.Done() // a broker that never answers
			return fctx.Err()
		}, nil
	}
	c, err := kafka.NewStagedConsumer(kafka.ConsumerConfig{
		Client: kafka.ClientConfig{Brokers: g.brokers}, Group: g.group, Topics: []string{g.topic},
		ShutdownGrace: 200 * time.Millisecond,
	}, h, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("no finish started")
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the shutdown grace")
	}
	if got := g.committed(t, 0); got > 0 {
		t.Fatalf("committed %d for a batch whose finish never returned", got)
	}
}

// TestOneStageBatchAppliedAtShutdownIsCommitted: a one-stage handler that
// completes its batch while shutdown begins has its offsets committed
// (within ShutdownGrace), so a restart does not apply the batch again.
func TestOneStageBatchAppliedAtShutdownIsCommitted(t *testing.T) {
	g := newStagedRig(t, 10)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := kafka.NewConsumer(kafka.ConsumerConfig{
		Client: kafka.ClientConfig{Brokers: g.brokers}, Group: g.group, Topics: []string{g.topic},
		RetryBackoff: time.Millisecond, ShutdownGrace: 5 * time.Second,
	}, func(context.Context, []*kgo.Record) error {
		cancel() // the signal arrives while the batch is applied; the handler completes it
		return nil
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for p := range int32(64) {
		if g.committed(t, p) >= 0 {
			return
		}
	}
	t.Fatal("the applied batch was not committed")
}
