package replay

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/identity"
)

// syntheticPartition is the partition number given to the profile updates a
// replay hands to the segmenter. The segmenter remembers the last applied
// offset per partition to ignore redeliveries; a partition number no
// topic has keeps the replay's offsets apart from the live consumer's, so
// neither makes the other's updates look like duplicates.
const syntheticPartition int32 = -1

// updates collects an identity processor's profile updates, handed over
// unencoded (identity.Processor.SendUpdatesTo); dead letters are dropped:
// the live pipeline published them already.
type updates struct {
	mu  sync.Mutex
	ups []identity.Update
}

func newUpdates() *updates { return &updates{} }

// newSequence starts the synthetic offsets at the wall clock in
// microseconds, so that a later replay into the same namespace starts above
// an earlier one (the segmenter ignores offsets it has seen).
func newSequence() *sequence {
	return &sequence{next: time.Now().UnixMicro()}
}

// add is the processor's update sink.
func (u *updates) add(ups []identity.Update) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.ups = append(u.ups, ups...)
}

// discardRecords is the processors' produce: with the sink set, only dead
// letters reach it.
func discardRecords(context.Context, ...*kgo.Record) error { return nil }

// take returns and forgets the collected updates.
func (u *updates) take() []identity.Update {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.ups
	u.ups = nil
	return out
}
