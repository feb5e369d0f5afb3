package segmenter

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
)

// messageNS is the UUID namespace of segment-change message ids.
var messageNS = uuid.MustParse("5e9d5a8e-3c1b-4f0e-9a51-6b1f0c2d7e44")

// MessageID is the deterministic id of the seq-th transition of a profile
// in a segment: the same transition always has the same id.
func MessageID(tenant, segmentID, profileID string, seq int64) string {
	return uuid.NewSHA1(messageNS, []byte(tenant+"\x00"+segmentID+"\x00"+profileID+"\x00"+strconv.FormatInt(seq, 10))).String()
}

// kafkaEmitter produces to the segment-changes topic and waits for the
// broker's acknowledgement.
type kafkaEmitter struct {
	cl    *kgo.Client
	topic string
}

// encodedEmitter is an Emitter that also takes the changes' JSON
// (values[i] encodes changes[i], as the outbox stored it), so that a
// change is encoded once.
type encodedEmitter interface {
	emitEncoded(ctx context.Context, changes []schemas.SegmentChange, values [][]byte) error
}

func (k *kafkaEmitter) Emit(ctx context.Context, changes []schemas.SegmentChange) error {
	return k.emitEncoded(ctx, changes, nil)
}

// emitEncoded produces the changes, encoding those without a value.
func (k *kafkaEmitter) emitEncoded(ctx context.Context, changes []schemas.SegmentChange, values [][]byte) error {
	if len(changes) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(changes))
	for i := range changes {
		c := &changes[i]
		var v []byte
		if i < len(values) {
			v = values[i]
		}
		if v == nil {
			var err error
			if v, err = json.Marshal(c); err != nil {
				return fmt.Errorf("segmenter: encode change: %w", err)
			}
		}
		recs[i] = &kgo.Record{
			Topic: k.topic,
			Key:   schemas.Key(c.Tenant, c.ProfileID),
			Value: v,
			Headers: []kgo.RecordHeader{
				{Key: schemas.HeaderTenant, Value: []byte(c.Tenant)},
				{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaSegmentChange)},
				{Key: schemas.HeaderSource, Value: []byte("segmenter")},
				{Key: schemas.HeaderContentType, Value: []byte("application/json")},
			},
		}
	}
	if err := k.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("segmenter: publish segment changes: %w", err)
	}
	return nil
}
