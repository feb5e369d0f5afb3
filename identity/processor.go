package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/schemas"
)

// ProduceFunc writes records and returns once the broker acknowledged all
// of them (kgo.Client.ProduceSync(...).FirstErr() fits).
type ProduceFunc func(ctx context.Context, recs ...*kgo.Record) error

// Processor applies batches of events-topic records: one pipeline of
// apply.lua calls, then the profile-updates records, then (by returning
// nil) the offset commit. It is safe for concurrent use; several processors
// (in one or many processes) may race on the same profiles.
type Processor struct {
	store   *Store
	tenants *config.Tenants
	topics  schemas.Topics
	produce ProduceFunc
	log     zerolog.Logger
	m       *metrics
	clock   func() time.Time
	// afterApply runs between the Redis write and the produce (tests use it
	// to simulate a crash there).
	afterApply func() error
	// noStore: dedup marks keep "1" instead of the output (SkipStoredOutputs).
	noStore bool
	// cache holds the profiles this processor wrote last (see profile_cache.go).
	cache *profileCache
	// sink receives the profile updates instead of produce (SendUpdatesTo).
	sink func([]Update)
	// fallbackLeft: chunks that still send plans with their messages
	// (see apply).
	fallbackLeft atomic.Int32
}

// NewProcessor builds a processor on a store. produce publishes output;
// metrics are registered on reg when it is not nil.
func NewProcessor(store *Store, tenants *config.Tenants, topics schemas.Topics, produce ProduceFunc, log zerolog.Logger, reg *prometheus.Registry) *Processor {
	return newProcessor(store, tenants, topics, produce, log, newMetrics(reg))
}

func newProcessor(store *Store, tenants *config.Tenants, topics schemas.Topics, produce ProduceFunc, log zerolog.Logger, m *metrics) *Processor {
	if store.rules.tenants == nil {
		store.rules.tenants = tenants
	}
	return &Processor{store: store, tenants: tenants, topics: topics, produce: produce, log: log, m: m, clock: store.clock,
		cache: newProfileCache(store.cfg.ProfileCacheSize)}
}

// pending is one record of a batch on its way through.
type pending struct {
	tenant string
	rules  *rules
	event  schemas.Event
	raw    []byte
	ts     time.Time
}

// chunk is a slice of a batch moving through the stages.
type chunk struct {
	items   []pending
	inputs  []applyInput // inputs[i] belongs to items[i]
	dead    []schemas.DeadLetter
	results []applyResult
}

// chunkSize is how many messages go into one pipeline: small enough that
// preparing the next chunk (Go) overlaps with applying this one (Redis).
const chunkSize = 256

// recordTenant reads the tenant header, else the key prefix.
func recordTenant(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == schemas.HeaderTenant {
			return string(h.Value)
		}
	}
	if t, _, ok := schemas.SplitKey(r.Key); ok {
		return t
	}
	return ""
}

// Handle applies a batch. It returns an error only for transient failures
// (Redis or Kafka unavailable); the caller retries the same batch and dedup
// makes the retry idempotent. Bad records go to the dead-letter topic.
func (p *Processor) Handle(ctx context.Context, records []*kgo.Record) error {
	start := time.Now()
	err := p.handle(ctx, records)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	p.m.batch.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return err
}

// handle runs three stages concurrently on chunks of the batch: prepare
// (decode, identifiers, traits), apply (one pipeline per chunk, chunks in
// order on one goroutine, so messages keep their order), build (records).
// Then it publishes everything and marks the outputs published.
func (p *Processor) handle(ctx context.Context, records []*kgo.Record) error {
	now := p.clock()
	jobs := make(chan *chunk, 2)
	applied := make(chan *chunk, 2)
	var applyErr error
	go func() {
		defer close(applied)
		for c := range jobs {
			if applyErr != nil {
				p.settle(c.inputs, nil, applyErr) // drain
				continue
			}
			c.results, applyErr = p.apply(ctx, c, now)
			if applyErr == nil {
				applied <- c
			}
		}
	}()
	// Each chunk's records are published as soon as it is built (in chunk
	// order, so a profile's updates keep their order), not at the end of
	// the batch: early messages of a large batch do not wait for the rest.
	// Offsets are still committed only after every chunk was published.
	var b builder
	var pubErr error
	built := make(chan struct{})
	go func() {
		defer close(built)
		for c := range applied {
			p.build(&b, c, now)
			if b.err == nil && pubErr == nil {
				pubErr = p.publish(ctx, &b)
			}
		}
	}()
	for i := 0; i < len(records); i += chunkSize {
		jobs <- p.prepareChunk(records[i:min(i+chunkSize, len(records))], now)
	}
	close(jobs)
	<-built
	switch {
	case applyErr != nil:
		return applyErr
	case b.err != nil:
		return b.err
	case pubErr != nil:
		return pubErr
	}
	if p.noStore {
		return nil
	}
	if err := p.store.markPublished(ctx, b.toMark); err != nil {
		// Not fatal: a redelivery would republish identical records.
		if errors.Is(err, context.Canceled) {
			return err
		}
		p.log.Warn().Err(err).Msg("could not mark outputs as published")
	}
	return nil
}

// prepareChunk decodes records into script messages; bad ones become dead
// letters.
func (p *Processor) prepareChunk(records []*kgo.Record, now time.Time) *chunk {
	c := &chunk{items: make([]pending, 0, len(records)), inputs: make([]applyInput, 0, len(records))}
	dead := func(tenant, mid, field, reason string, raw []byte) {
		c.dead = append(c.dead, schemas.DeadLetter{
			Tenant: tenant, Stage: "identity", Reason: reason, Field: field, MessageID: mid,
			Original: json.RawMessage(validJSONOrString(raw)), ReceivedAt: now.UTC(),
		})
	}
	for _, rec := range records {
		tenant := recordTenant(rec)
		r, ok := p.store.rules.get(tenant)
		if !ok {
			p.m.messages.WithLabelValues("unknown", "unknown", "dead_letter").Inc()
			if tenant == "" {
				tenant = "unknown"
			}
			dead(tenant, "", "", fmt.Sprintf("unknown tenant %q", tenant), rec.Value)
			continue
		}
		// Decoded without schemas.Event's Extra handling (a second full
		// decode): identity never re-emits the message itself. decodeEvent
		// is json.Unmarshal with a fast path for the common shape.
		var pe plainEvent
		if err := decodeEvent(rec.Value, &pe); err != nil {
			p.m.messages.WithLabelValues(tenant, "unknown", "dead_letter").Inc()
			dead(tenant, "", "", "value is not a valid event: "+err.Error(), rec.Value)
			continue
		}
		e := schemas.Event(pe)
		msg, probs, err := p.store.prepare(tenant, r, &e, now)
		for _, pr := range probs {
			dead(tenant, e.MessageID, pr.Field, "dropped: "+pr.Reason, rec.Value)
		}
		if err != nil {
			p.m.messages.WithLabelValues(tenant, "unknown", "dead_letter").Inc()
			dead(tenant, e.MessageID, "", err.Error(), rec.Value)
			continue
		}
		c.items = append(c.items, pending{tenant: tenant, rules: r, event: e, raw: rec.Value, ts: eventTime(&e, now)})
		if p.noStore {
			msg.Ns = 1
		}
		c.inputs = append(c.inputs, applyInput{Tenant: tenant, Msg: msg})
		p.plan(&c.inputs[len(c.inputs)-1], r)
	}
	return c
}

// publish hands what the builder holds to the sink or the broker (and
// forgets it; toMark stays for the end of the batch).
func (p *Processor) publish(ctx context.Context, b *builder) error {
	if p.afterApply != nil {
		if err := p.afterApply(); err != nil {
			return err
		}
	}
	if p.sink != nil && len(b.ups) > 0 {
		p.sink(b.ups)
		b.ups = nil
	}
	recs := b.recs
	for i := range b.dead {
		recs = append(recs, deadLetterRecord(p.topics.DeadLetter, &b.dead[i]))
	}
	b.recs, b.dead = nil, nil
	if len(recs) > 0 && p.produce != nil {
		if err := p.produce(ctx, recs...); err != nil {
			return fmt.Errorf("identity: publish profile updates: %w", err)
		}
	}
	return nil
}

// builder collects the output of a batch.
type builder struct {
	recs   []*kgo.Record
	ups    []Update // with a sink (SendUpdatesTo) instead of recs
	dead   []schemas.DeadLetter
	toMark []dedupMark
	err    error
}

// build turns a chunk's script outputs into records.
func (p *Processor) build(b *builder, c *chunk, now time.Time) {
	b.dead = append(b.dead, c.dead...)
	for i := range c.items {
		it := &c.items[i]
		res := &c.results[i]
		typ := it.event.Type
		switch {
		case res.Err != nil:
			p.m.messages.WithLabelValues(it.tenant, typ, "dead_letter").Inc()
			b.dead = append(b.dead, schemas.DeadLetter{
				Tenant: it.tenant, Stage: "identity", Reason: res.Err.Error(), MessageID: it.event.MessageID,
				Original: json.RawMessage(validJSONOrString(it.raw)), ReceivedAt: now.UTC(),
			})
			continue
		case res.Published:
			p.m.messages.WithLabelValues(it.tenant, typ, "duplicate").Inc()
			continue
		}
		outcome := "applied"
		if res.Dup {
			outcome = "duplicate"
		}
		switch res.Out.S {
		case outTomb:
			outcome = "tombstoned"
			p.log.Debug().Str("tenant", it.tenant).Str("messageId", it.event.MessageID).Msg("message predates a deletion; ignored")
		case outNoID:
			outcome = "no_identifier"
			if !res.Dup {
				b.dead = append(b.dead, schemas.DeadLetter{
					Tenant: it.tenant, Stage: "identity", Reason: "no usable identifier (userId, anonymousId, email, phone, externalIds are missing or blocked)",
					MessageID: it.event.MessageID, Original: json.RawMessage(validJSONOrString(it.raw)), ReceivedAt: now.UTC(),
				})
			}
		}
		p.m.messages.WithLabelValues(it.tenant, typ, outcome).Inc()
		if n := len(res.Out.Ab); n > 0 && !res.Dup {
			p.m.merges.WithLabelValues(it.tenant).Add(float64(n))
		}
		for _, u := range profileUpdates(it.tenant, it.rules, &it.event, c.inputs[i].Msg.Ev, it.ts, &res.Out) {
			if p.sink != nil {
				b.ups = append(b.ups, handoff(&u, &it.event, it.ts, &res.Out))
				continue
			}
			rec, err := updateRecord(p.topics.ProfileUpdates, &u)
			if err != nil {
				b.err = fmt.Errorf("identity: encode profile update: %w", err)
				return
			}
			b.recs = append(b.recs, rec)
		}
		b.toMark = append(b.toMark, dedupMark{tenant: it.tenant, mid: it.event.MessageID, bucket: res.Bucket})
	}
}

// validJSONOrString returns b if it is JSON, else b as a JSON string.
func validJSONOrString(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// plainEvent is schemas.Event without its JSON methods.
type plainEvent schemas.Event
