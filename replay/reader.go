package replay

import (
	"container/heap"
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxQueued is the most records buffered per partition before its fetches
// are paused (memory bound when partitions' timestamps are skewed).
const maxQueued = 20000

// reader reads partition ranges and returns records merged across
// partitions in timestamp order (ties: partition, then offset), so the
// replay applies them in the order the live pipeline most likely did.
type reader struct {
	cl     *kgo.Client
	topic  string
	ranges map[int32]PartitionRange
	queues map[int32][]*kgo.Record
	done   map[int32]bool // reached End
	paused map[int32]bool
	// read counts records consumed (returned or skipped at the end).
	read int64
}

func newReader(cl *kgo.Client, topic string, ranges []PartitionRange) *reader {
	r := &reader{cl: cl, topic: topic, ranges: map[int32]PartitionRange{}, queues: map[int32][]*kgo.Record{}, done: map[int32]bool{}, paused: map[int32]bool{}}
	offsets := map[int32]kgo.Offset{}
	for _, pr := range ranges {
		r.ranges[pr.Partition] = pr
		if pr.Records() == 0 {
			r.done[pr.Partition] = true
			continue
		}
		offsets[pr.Partition] = kgo.NewOffset().At(pr.Start)
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
	return r
}

// finished says every partition reached its end and every record was
// returned.
func (r *reader) finished() bool {
	for p := range r.ranges {
		if !r.done[p] || len(r.queues[p]) > 0 {
			return false
		}
	}
	return true
}

// ready says a merged record can be taken: every partition that is not
// done has a record queued.
func (r *reader) ready() bool {
	any := false
	for p := range r.ranges {
		if len(r.queues[p]) > 0 {
			any = true
		} else if !r.done[p] {
			return false
		}
	}
	return any
}

// poll fetches once and queues the records inside the ranges.
func (r *reader) poll(ctx context.Context) error {
	fs := r.cl.PollRecords(ctx, 10000)
	if err := ctx.Err(); err != nil {
		return err
	}
	var ferr error
	fs.EachError(func(t string, p int32, err error) {
		if ferr == nil {
			ferr = fmt.Errorf("replay: fetch %s[%d]: %w", t, p, err)
		}
	})
	if ferr != nil {
		return ferr
	}
	fs.EachRecord(func(rec *kgo.Record) {
		pr, ok := r.ranges[rec.Partition]
		if !ok || r.done[rec.Partition] || rec.Offset < pr.Start {
			return
		}
		if rec.Offset >= pr.End {
			r.finish(rec.Partition)
			return
		}
		r.queues[rec.Partition] = append(r.queues[rec.Partition], rec)
		if rec.Offset >= pr.End-1 {
			r.finish(rec.Partition)
		}
	})
	var pause, resume []int32
	for p, q := range r.queues {
		switch {
		case len(q) >= maxQueued && !r.paused[p] && !r.done[p]:
			r.paused[p] = true
			pause = append(pause, p)
		case len(q) < maxQueued/2 && r.paused[p]:
			r.paused[p] = false
			resume = append(resume, p)
		}
	}
	if len(pause) > 0 {
		r.cl.PauseFetchPartitions(map[string][]int32{r.topic: pause})
	}
	if len(resume) > 0 {
		r.cl.ResumeFetchPartitions(map[string][]int32{r.topic: resume})
	}
	return nil
}

// finish stops fetching a partition.
func (r *reader) finish(p int32) {
	if r.done[p] {
		return
	}
	r.done[p] = true
	r.cl.RemoveConsumePartitions(map[string][]int32{r.topic: {p}})
}

// next returns up to n records merged in timestamp order, polling as
// needed; an empty result means the ranges are exhausted.
func (r *reader) next(ctx context.Context, n int) ([]*kgo.Record, error) {
	for !r.ready() {
		if r.finished() {
			return nil, nil
		}
		if err := r.poll(ctx); err != nil {
			return nil, err
		}
	}
	h := &recHeap{}
	for p, q := range r.queues {
		if len(q) > 0 {
			heap.Push(h, head{p: p, rec: q[0]})
		}
	}
	out := make([]*kgo.Record, 0, n)
	for len(out) < n && h.Len() > 0 {
		top := heap.Pop(h).(head)
		q := r.queues[top.p][1:]
		r.queues[top.p] = q
		out = append(out, top.rec)
		if len(q) > 0 {
			heap.Push(h, head{p: top.p, rec: q[0]})
		} else if !r.done[top.p] {
			break // this partition may have earlier records still unfetched
		}
	}
	r.read += int64(len(out))
	return out, nil
}

type head struct {
	p   int32
	rec *kgo.Record
}

type recHeap []head

func (h recHeap) Len() int { return len(h) }
func (h recHeap) Less(i, j int) bool {
	a, b := h[i].rec, h[j].rec
	if !a.Timestamp.Equal(b.Timestamp) {
		return a.Timestamp.Before(b.Timestamp)
	}
	if a.Partition != b.Partition {
		return a.Partition < b.Partition
	}
	return a.Offset < b.Offset
}
func (h recHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)   { *h = append(*h, x.(head)) }
func (h *recHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
