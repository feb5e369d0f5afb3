package replay

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// segShards is the number of concurrent segmenter workers. Updates are
// sharded by record key (tenant/profileId) exactly as the profile-updates
// topic partitions them for the live segmenter, so one profile's updates
// stay in order on one worker; a merge touches profiles of other shards,
// which the segmenter handles with compare-and-set as it does between live
// partitions.
const segShards = 16

// segHandler is the segmenter's batch handler.
type segHandler func(ctx context.Context, ins []segmenter.Input) error

// segStage runs the segmenter on sharded profile updates.
type segStage struct {
	in   []chan []segmenter.Input
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	stop context.CancelCauseFunc
}

func startSegStage(ctx context.Context, stop context.CancelCauseFunc, h segHandler) *segStage {
	s := &segStage{stop: stop}
	for k := range segShards {
		ch := make(chan []segmenter.Input, 8)
		s.in = append(s.in, ch)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			failed := false
			for recs := range ch {
				if failed {
					continue // drain
				}
				recs = coalesce(ch, recs)
				if err := h(ctx, recs); err != nil {
					failed = true
					s.fail(fmt.Errorf("replay: segmenter (shard %d): %w", k, err))
				}
			}
		}()
	}
	return s
}

func (s *segStage) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		s.stop(err)
	}
}

// send shards a batch of updates (in order) to the workers.
func (s *segStage) send(ctx context.Context, recs []segmenter.Input) error {
	parts := make([][]segmenter.Input, segShards)
	for _, r := range recs {
		// the record key the profile-updates topic would use
		h := fnv.New32a()
		_, _ = h.Write(schemas.Key(r.Update.Tenant, r.Update.ProfileID))
		k := int(h.Sum32() % segShards)
		r.Partition = syntheticPartition - int32(k)
		parts[k] = append(parts[k], r)
	}
	for k, p := range parts {
		if len(p) == 0 {
			continue
		}
		select {
		case s.in[k] <- p:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// close waits for the workers and returns the first error.
func (s *segStage) close() error {
	for _, ch := range s.in {
		close(ch)
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// maxCoalesce bounds the updates of one segmenter call.
const maxCoalesce = 20000

// coalesce appends the batches already queued behind recs (in order), so a
// lagging segmenter applies several updates of a profile in one state read
// and write instead of one each.
func coalesce(ch chan []segmenter.Input, recs []segmenter.Input) []segmenter.Input {
	for len(recs) < maxCoalesce {
		select {
		case more, ok := <-ch:
			if !ok {
				return recs
			}
			recs = append(recs, more...)
		default:
			return recs
		}
	}
	return recs
}
