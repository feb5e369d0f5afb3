package identity

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Handle applies a batch and publishes its output (Stage, then its
// finish). It returns an error only for transient failures (Redis or Kafka
// unavailable); the caller retries the same batch and dedup makes the retry
// idempotent. Bad records go to the dead-letter topic.
func (p *Processor) Handle(ctx context.Context, records []*kgo.Record) error {
	finish, err := p.Stage(ctx, records)
	if err != nil {
		return err
	}
	return finish(ctx)
}

// Stage starts applying a batch in Redis and returns once every message of
// it is prepared and queued for the store, in order behind the batches
// staged before it; publishing its output goes on in the background, and
// finish waits for both (a kafka.StagedHandler). The consumer polls and
// prepares the next batch meanwhile, so Redis does not wait for it between
// batches: a batch's Redis writes, not its publishing, are what the next
// batch depends on, and the next batch's writes start only after them.
// Publishing keeps batch order: a batch publishes once the previous batch's
// publishing is done, or, if that failed, leaves everything to its own
// finish, which the consumer runs after the previous one's. When a write
// fails, the batch's chunks from there on are left unapplied (and so are
// the later batches'), and the first of the batch's finish and the next
// batch's apply applies them again (applyRest), before anything later. A
// crash before finish returns loses nothing: the offsets are not
// committed, and the redelivered messages republish the outputs stored
// with their dedup marks.
func (p *Processor) Stage(ctx context.Context, records []*kgo.Record) (finish func(context.Context) error, err error) {
	st := &stagedBatch{start: time.Now(), now: p.clock(), done: make(chan struct{}), applied: make(chan struct{})}
	p.stageMu.Lock()
	st.prev = p.lastStaged
	p.lastStaged = st
	p.stageMu.Unlock()
	p.stage(ctx, records, st)
	return func(ctx context.Context) error {
		err := p.finish(ctx, st)
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		p.m.batch.WithLabelValues(outcome).Observe(time.Since(st.start).Seconds())
		return err
	}, nil
}

// stagedBatch is a batch between Stage and its finish.
type stagedBatch struct {
	start time.Time
	now   time.Time // the batch's clock (dedup bucket, dead letters)
	b     builder
	// done is closed when the batch's publishing goroutine has ended;
	// allSent (then) tells whether it published everything it built.
	done    chan struct{}
	allSent bool
	// applied is closed when the batch's apply goroutine has ended; from
	// then on mu guards the rest. applyErr is why it stopped early,
	// unapplied the records of the chunks it did not apply (in order),
	// redone the chunks applyRest applied since (for finish to build),
	// prev the batch before it while this one has records unapplied (they
	// go after the previous batch's).
	applied   chan struct{}
	mu        sync.Mutex
	applyErr  error
	unapplied []*kgo.Record
	redone    []*chunk
	prev      *stagedBatch
}

// stage runs three steps concurrently on chunks of the batch: prepare
// (decode, identifiers, traits; on the caller's goroutine), apply (one
// pipeline per chunk, chunks in order on one goroutine, which first waits
// for the previous batch's apply, so messages keep their order), build
// and publish (records, in the background). Prepare and build pass
// through the processor's cpuGate, which keeps a P free for apply. It
// returns when every chunk is queued for apply.
func (p *Processor) stage(ctx context.Context, records []*kgo.Record, st *stagedBatch) {
	now, prev := st.now, st.prev
	jobs := make(chan *chunk, 2)
	applied := make(chan *chunk, 2)
	go func() {
		defer close(applied)
		defer close(st.applied)
		var err error
		if prev != nil {
			if err = p.applyRest(ctx, prev); err == nil {
				st.prev = nil // (no chain of old batches kept alive)
			}
		}
		for c := range jobs {
			if err == nil {
				if c.results, err = p.apply(ctx, c, now); err == nil {
					applied <- c
					continue
				}
				// apply settled the chunk
			} else {
				p.settle(c.inputs, nil, err) // left for applyRest
			}
			st.unapplied = append(st.unapplied, c.records...)
		}
		st.applyErr = err
	}()
	// Each chunk's records are published as soon as it is built (in chunk
	// order, so a profile's updates keep their order), not at the end of
	// the batch: early messages of a large batch do not wait for the rest.
	go func() {
		defer close(st.done)
		var waited, prevSent bool
		var pubErr error
		for c := range applied {
			p.cpu.enter()
			p.build(&st.b, c, now)
			p.cpu.leave()
			if !waited {
				waited = true
				prevSent = prev == nil || prev.published()
			}
			if st.b.err == nil && pubErr == nil && prevSent {
				pubErr = p.publish(ctx, &st.b)
			}
		}
		// (applied is closed after applyErr is set)
		st.allSent = waited && prevSent && pubErr == nil && st.b.err == nil && st.applyErr == nil
	}()
	for i := 0; i < len(records); i += chunkSize {
		p.cpu.enter()
		c := p.prepareChunk(records[i:min(i+chunkSize, len(records))], now)
		p.cpu.leave()
		jobs <- c
	}
	close(jobs)
}

// applyRest waits until the batch's apply goroutine has ended and applies
// again what it left unapplied, after what the batches before it left
// (the batch's finish and the next batch's apply goroutine call it; the
// first to come does the work). It fails while a write fails.
func (p *Processor) applyRest(ctx context.Context, st *stagedBatch) error {
	<-st.applied
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.unapplied) == 0 {
		return nil
	}
	if st.prev != nil {
		if err := p.applyRest(ctx, st.prev); err != nil {
			return err
		}
		st.prev = nil
	}
	for len(st.unapplied) > 0 {
		n := min(chunkSize, len(st.unapplied))
		c := p.prepareChunk(st.unapplied[:n], st.now)
		var err error
		if c.results, err = p.apply(ctx, c, st.now); err != nil {
			return err // (apply settled the chunk)
		}
		st.redone = append(st.redone, c)
		st.unapplied = st.unapplied[n:]
	}
	return nil
}

// published waits for the batch's publishing goroutine and reports
// whether it published everything.
func (st *stagedBatch) published() bool {
	<-st.done
	return st.allSent
}

// finish applies what the batch left unapplied (applyRest), publishes
// what its publishing goroutine left (nothing unless a write or a publish
// failed, or the previous batch's publish did), then marks the outputs
// published. Called again after an error, it resends only what is still
// unsent.
func (p *Processor) finish(ctx context.Context, st *stagedBatch) error {
	if err := p.applyRest(ctx, st); err != nil {
		return err
	}
	<-st.done
	b := &st.b
	st.mu.Lock()
	for _, c := range st.redone {
		p.build(b, c, st.now)
	}
	st.redone = nil
	st.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	if err := p.publish(ctx, b); err != nil {
		return err
	}
	if p.noStore {
		return nil
	}
	if err := p.store.markPublished(ctx, b.toMark, p.clock()); err != nil {
		// Not fatal: a redelivery would republish identical records.
		if errors.Is(err, context.Canceled) {
			return err
		}
		p.log.Warn().Err(err).Msg("could not mark outputs as published")
	}
	b.toMark = nil
	return nil
}
