package replay

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// syntheticPartition is the partition number given to the profile updates a
// replay hands to the segmenter. The segmenter remembers the last applied
// offset per partition to ignore redeliveries; a partition number no
// topic has keeps the replay's offsets apart from the live consumer's, so
// neither makes the other's updates look like duplicates.
const syntheticPartition int32 = -1

// updates collects an identity processor's profile-update records (dead
// letters are dropped: the live pipeline published them already).
type updates struct {
	topic string
	mu    sync.Mutex
	recs  []*kgo.Record
}

func newUpdates(topic string) *updates {
	return &updates{topic: topic}
}

// newSequence starts the synthetic offsets at the wall clock in
// microseconds, so that a later replay into the same namespace starts above
// an earlier one (the segmenter ignores offsets it has seen).
func newSequence() *sequence {
	return &sequence{next: time.Now().UnixMicro()}
}

func (u *updates) produce(_ context.Context, recs ...*kgo.Record) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range recs {
		if r.Topic != u.topic {
			continue
		}
		r.Partition = syntheticPartition
		u.recs = append(u.recs, r)
	}
	return nil
}

// take returns and forgets the collected records.
func (u *updates) take() []*kgo.Record {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.recs
	u.recs = nil
	return out
}
