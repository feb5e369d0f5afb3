package csvimport

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/wait"
)

// publishLoop takes batches in row order: counts their rows (the seen set
// needs that order), produces their records, then records the acknowledged
// state in Redis. It is the only writer of the job's state.
func (j *job) publishLoop(ctx context.Context, ch <-chan *batch) error {
	s := j.s
	for b := range ch {
		select {
		case <-b.ready:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if b.err != nil {
			return fmt.Errorf("csvimport: encode: %w", b.err)
		}
		next := j.st
		j.count(ctx, b.outs, &next.Counts)
		if b.lastLine > 0 {
			next.LastLine = int64(b.lastLine)
		}
		next.BytesRead = b.bytesRead
		next.UpdatedAt = s.deps.Clock().UTC()
		j.countErrLines(&next, len(b.errLines))
		start := time.Now()
		if err := j.publish(ctx, b.recs); err != nil {
			return err
		}
		b.recs = nil
		s.m.batches.WithLabelValues(j.t.ID).Observe(time.Since(start).Seconds())
		if err := j.retry(ctx, func() error { return s.jobs.update(ctx, j.t.ID, b.seq, &next, b.errLines) }); err != nil {
			return err
		}
		prev := j.st.Counts
		j.st = next
		acked := next
		j.acked.Store(&acked)
		c := next.Counts
		s.m.rows.WithLabelValues(j.t.ID, "new").Add(float64(c.New - prev.New))
		s.m.rows.WithLabelValues(j.t.ID, "updated").Add(float64(c.Updated - prev.Updated))
		s.m.rows.WithLabelValues(j.t.ID, "failed").Add(float64(c.Failed - prev.Failed))
		s.m.rows.WithLabelValues(j.t.ID, "empty").Add(float64(c.Empty - prev.Empty))
		if b.deadCount > 0 {
			s.m.dead.WithLabelValues(j.t.ID).Add(float64(b.deadCount))
		}
	}
	return nil
}

// count adds a batch's rows to the counts, in row order. A row is
// "updated" when its id was seen earlier in this import or, with
// Deps.Known, already had a profile; generated ids are always new.
func (j *job) count(ctx context.Context, outs []rowOut, c *Counts) {
	var firstSeen []int // rows whose id is new to this import
	repeat := make([]bool, len(outs))
	for i, o := range outs {
		if o.kind == outImported && !o.generated {
			if j.seen.add(o.id) {
				repeat[i] = true
			} else {
				firstSeen = append(firstSeen, i)
			}
		}
	}
	var known []bool
	if k := j.s.deps.Known; k != nil && len(firstSeen) > 0 {
		ids := make([]string, len(firstSeen))
		for n, i := range firstSeen {
			ids[n] = outs[i].id
		}
		var err error
		if known, err = k.KnownUserIDs(ctx, j.t.ID, ids); err != nil || len(known) != len(ids) {
			if !j.knownFailed {
				j.knownFailed = true
				j.s.deps.Log.Warn().Err(err).Str("tenant", j.t.ID).Str("import", j.opts.JobID).
					Msg("import: cannot tell existing users; counting first-seen ids as new")
			}
			known = nil
		} else {
			for n, i := range firstSeen {
				repeat[i] = known[n]
			}
		}
	}
	for i, o := range outs {
		c.Total++
		switch {
		case o.kind == outEmpty:
			c.Empty++
		case o.kind == outFailed:
			c.Failed++
		case repeat[i]:
			c.Updated++
		default:
			c.New++
		}
	}
}

func (j *job) publish(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	err := j.retry(ctx, func() error { return j.s.deps.Publisher.Produce(ctx, recs...) })
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// retry runs fn up to 1+PublishRetries times with a doubling backoff,
// stopping when ctx is done.
func (j *job) retry(ctx context.Context, fn func() error) error {
	pause := 200 * time.Millisecond
	var err error
	for attempt := 0; ; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		if attempt >= j.s.cfg.PublishRetries || ctx.Err() != nil {
			return err
		}
		if !wait.Sleep(ctx, pause) {
			return err
		}
		pause *= 2
	}
}
