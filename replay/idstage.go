package replay

import (
	"context"
	"fmt"
	"sync"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// idShards is the number of identity processors a batch is split over.
// Records that share an identifier, directly or through other records of
// the batch, go to the same shard in their order (split), so merges and
// profile creations see the same history as in the merged log order; the
// shards of a batch run concurrently and the next batch starts when all
// are done.
const idShards = 8

// idStage applies batches of events records with one processor per shard
// and returns their profile updates in a deterministic order (shard by
// shard, each in record order) with increasing synthetic offsets.
type idStage struct {
	procs   []*identity.Processor
	outs    []*updates
	seq     *sequence
	tenants *config.Tenants
}

// sequence hands out increasing synthetic offsets.
type sequence struct{ next int64 }

// newGeneration is for a replay into a new generation, which nothing
// reads outputs from and nothing reads or writes until the replay ends:
// outputs are not stored and writes are held (identity.HoldWrites; records
// sizes its filter). A replay into the live namespace must store outputs,
// because a live consumer that meets one of its messages later republishes
// the stored output, and must write as it goes.
func newIDStage(store *identity.Store, tenants *config.Tenants, topics schemas.Topics, log zerolog.Logger, seq *sequence, newGeneration bool, records int64) *idStage {
	s := &idStage{seq: seq, tenants: tenants}
	for range idShards {
		u := newUpdates()
		s.outs = append(s.outs, u)
		proc := identity.NewProcessor(store, tenants, topics, discardRecords, log, nil)
		proc.SendUpdatesTo(u.add)
		if newGeneration {
			proc.SkipStoredOutputs()
			if len(s.procs) == 0 {
				proc.HoldWrites(records)
			}
		}
		if len(s.procs) > 0 {
			// a profile may go to any shard from one batch to the next
			proc.ShareProfileCache(s.procs[0])
		}
		s.procs = append(s.procs, proc)
	}
	return s
}

// handle applies a batch and returns its profile updates.
func (s *idStage) handle(ctx context.Context, recs []*kgo.Record) ([]segmenter.Input, error) {
	parts := split(s.tenants, recs, idShards, s.procs[0].CachedProfileOf)
	errs := make([]error, idShards)
	var wg sync.WaitGroup
	for k, p := range parts {
		if len(p) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = s.procs[k].Handle(ctx, p)
		}()
	}
	wg.Wait()
	for k := range parts {
		if errs[k] != nil {
			return nil, fmt.Errorf("replay: identity: %w", errs[k])
		}
	}
	if err := s.procs[0].FlushHeldOver(ctx); err != nil {
		return nil, fmt.Errorf("replay: identity: %w", err)
	}
	var out []segmenter.Input
	for k := range parts {
		ups := s.outs[k].take()
		for i := range ups {
			out = append(out, segmenter.Input{Update: ups[i].ProfileUpdate, TraitsJSON: ups[i].TraitsJSON, Offset: s.seq.next})
			s.seq.next++
		}
	}
	return out, nil
}

// flush writes what the processors hold (at the end of the replay).
func (s *idStage) flush(ctx context.Context) error {
	if err := s.procs[0].FlushHeld(ctx); err != nil {
		return fmt.Errorf("replay: identity: %w", err)
	}
	return nil
}
