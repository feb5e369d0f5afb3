package kafka

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// finisher runs a StagedConsumer's finishes and commits on one goroutine,
// in batch order, while the poll loop applies later batches.
type finisher struct {
	c *Consumer
	// ctx outlives the loop's context by ShutdownGrace (see drain).
	ctx     context.Context
	cancel  context.CancelFunc
	loopCtx context.Context
	queue   chan finishItem
	exited  chan struct{}
	// inFlight counts pushed batches not yet finished and committed; idle
	// is signalled when it drops to zero.
	inFlight atomic.Int64
	idle     chan struct{}
}

// finishItem is an applied batch.
type finishItem struct {
	records []*kgo.Record
	finish  func(context.Context) error
}

func newFinisher(c *Consumer, loopCtx context.Context) *finisher {
	ctx, cancel := context.WithCancel(context.WithoutCancel(loopCtx))
	f := &finisher{c: c, ctx: ctx, cancel: cancel, loopCtx: loopCtx,
		queue: make(chan finishItem, c.cfg.MaxInFlight), exited: make(chan struct{}), idle: make(chan struct{}, 1)}
	go f.run()
	return f
}

func (f *finisher) run() {
	defer close(f.exited)
	// broken: a batch was left unfinished, so no later batch may commit
	// (its offsets would cover the unfinished one).
	broken := false
	for it := range f.queue {
		if !broken && f.finish(it) {
			f.c.commit(f.ctx, it.records)
		} else {
			broken = true
		}
		if f.inFlight.Add(-1) == 0 {
			select {
			case f.idle <- struct{}{}:
			default:
			}
		}
	}
}

// finish runs a batch's finish until it succeeds; false when it gave up
// (the batch is then not committed): the finisher's context ended, or a
// finish failed after the loop's context ended (shutting down, nothing is
// retried).
func (f *finisher) finish(it finishItem) bool {
	if it.finish == nil {
		return f.ctx.Err() == nil
	}
	return f.c.retry(f.ctx, "finishing a batch failed; retrying", len(it.records),
		func() error { return it.finish(f.ctx) },
		func() bool { return f.ctx.Err() != nil || f.loopCtx.Err() != nil })
}

// pending reports whether applied batches wait for their finish.
func (f *finisher) pending() bool { return f.inFlight.Load() > 0 }

// push queues an applied batch; it waits while MaxInFlight batches are
// queued, and returns false if the loop's context ended meanwhile.
func (f *finisher) push(ctx context.Context, records []*kgo.Record, finish func(context.Context) error) bool {
	f.inFlight.Add(1)
	select {
	case f.queue <- finishItem{records: records, finish: finish}:
		return true
	case <-ctx.Done():
		f.inFlight.Add(-1)
		return false
	}
}

// drain waits until every queued batch is finished and committed. Once
// the loop's context has ended it waits at most ShutdownGrace, then
// cancels the finishes still running (they end at once, uncommitted).
func (f *finisher) drain() {
	loopDone := f.loopCtx.Done()
	var grace <-chan time.Time
	for f.pending() {
		select {
		case <-f.idle:
		case <-loopDone:
			t := time.NewTimer(f.c.cfg.ShutdownGrace)
			defer t.Stop()
			loopDone, grace = nil, t.C
		case <-grace:
			f.cancel()
			grace = nil
		}
	}
}

// close stops the goroutine (after drain: nothing is left to run).
func (f *finisher) close() {
	f.cancel()
	close(f.queue)
	<-f.exited
}
