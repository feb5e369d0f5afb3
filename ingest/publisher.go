package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
)

// ErrUnavailable means the log did not acknowledge the records: the caller
// must answer 503 and the sender retry. Nothing was acknowledged.
var ErrUnavailable = errors.New("ingest: the event log is unavailable")

// Publisher writes events and dead letters to the log and returns only after
// the broker acknowledged every record (idempotent producer, acks=all). It is
// the one door to the events topic: the gateway, the user API and the CSV
// import all use it.
type Publisher struct {
	cl     *kgo.Client
	topics schemas.Topics
	source string
	now    func() time.Time
}

// NewPublisher wraps a franz-go client. source names the writer in the
// user360-source header ("gateway", "users-api", "import", …).
func NewPublisher(cl *kgo.Client, topics schemas.Topics, source string) *Publisher {
	return &Publisher{cl: cl, topics: topics, source: source, now: time.Now}
}

// WithSource returns a publisher sharing the client with another source name.
func (p *Publisher) WithSource(source string) *Publisher {
	c := *p
	c.source = source
	return &c
}

// EventRecord builds the events-topic record of one event. It fills
// messageId, receivedAt and timestamp when they are missing.
func (p *Publisher) EventRecord(tenant string, e *schemas.Event) (*kgo.Record, error) {
	if e.MessageID == "" {
		e.MessageID = uuid.NewString()
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = p.now().UTC()
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = e.ReceivedAt
	}
	v, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("ingest: encode event: %w", err)
	}
	return &kgo.Record{
		Topic: p.topics.Events,
		Key:   schemas.Key(tenant, e.IdentityKey()),
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderTenant, Value: []byte(tenant)},
			{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaEvent)},
			{Key: schemas.HeaderSource, Value: []byte(p.source)},
			{Key: schemas.HeaderContentType, Value: []byte("application/json")},
		},
	}, nil
}

// DeadLetterRecord builds the deadletter-topic record of a rejection.
func (p *Publisher) DeadLetterRecord(d *schemas.DeadLetter) (*kgo.Record, error) {
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = p.now().UTC()
	}
	v, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("ingest: encode dead letter: %w", err)
	}
	id := d.MessageID
	if id == "" {
		id = d.Stage
	}
	return &kgo.Record{
		Topic: p.topics.DeadLetter,
		Key:   schemas.Key(d.Tenant, id),
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderTenant, Value: []byte(d.Tenant)},
			{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaDeadLetter)},
			{Key: schemas.HeaderSource, Value: []byte(p.source)},
			{Key: schemas.HeaderContentType, Value: []byte("application/json")},
		},
	}, nil
}

// Publish writes events of one tenant and waits for the acknowledgement.
func (p *Publisher) Publish(ctx context.Context, tenant string, events []schemas.Event, dead []schemas.DeadLetter) error {
	recs := make([]*kgo.Record, 0, len(events)+len(dead))
	for i := range events {
		r, err := p.EventRecord(tenant, &events[i])
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	for i := range dead {
		r, err := p.DeadLetterRecord(&dead[i])
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	return p.Produce(ctx, recs...)
}

// Produce writes records and waits until the broker acknowledged all of
// them; any failure, or ctx ending first, is ErrUnavailable (wrapped with the
// cause).
//
// The producer is idempotent, so franz-go keeps retrying records that were
// already sent rather than risk reordering them; Produce does not wait for
// that: when ctx ends it answers ErrUnavailable and the records may still be
// written later. The caller (an SDK retrying after a 503) then sends them
// again with the same messageId, and the identity stage deduplicates by
// messageId: at-least-once in the log, exactly once in effect. What Produce
// never does is report success for a record that is not in the log.
func (p *Publisher) Produce(ctx context.Context, recs ...*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	var (
		mu       sync.Mutex
		firstErr error
		left     = int64(len(recs))
		done     = make(chan struct{})
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		if atomic.AddInt64(&left, -1) == 0 {
			close(done)
		}
	}
	for _, r := range recs {
		p.cl.Produce(ctx, r, promise)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	if firstErr != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, firstErr)
	}
	return nil
}
