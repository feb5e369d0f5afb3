package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
}

// NewProcessor builds a processor on a store. produce publishes output.
func NewProcessor(store *Store, tenants *config.Tenants, topics schemas.Topics, produce ProduceFunc, log zerolog.Logger, m *metrics) *Processor {
	if store.rules.tenants == nil {
		store.rules.tenants = tenants
	}
	if m == nil {
		m = newMetrics(nil)
	}
	return &Processor{store: store, tenants: tenants, topics: topics, produce: produce, log: log, m: m, clock: store.clock}
}

// pending is one record of a batch on its way through.
type pending struct {
	tenant string
	rules  *rules
	event  schemas.Event
	ts     time.Time
	in     int // index into the apply inputs, -1 = not applied
}

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

func (p *Processor) handle(ctx context.Context, records []*kgo.Record) error {
	now := p.clock()
	var dead []schemas.DeadLetter
	reject := func(tenant string, r *kgo.Record, mid, field, reason string) {
		label := tenant
		if _, ok := p.store.rules.get(tenant); !ok {
			label = "unknown"
		}
		p.m.messages.WithLabelValues(label, "unknown", "dead_letter").Inc()
		dead = append(dead, schemas.DeadLetter{
			Tenant: tenant, Stage: "identity", Reason: reason, Field: field, MessageID: mid,
			Original: json.RawMessage(validJSONOrString(r.Value)), ReceivedAt: now.UTC(),
		})
	}
	items := make([]pending, 0, len(records))
	inputs := make([]applyInput, 0, len(records))
	for _, rec := range records {
		tenant := recordTenant(rec)
		r, ok := p.store.rules.get(tenant)
		if !ok {
			reject(tenant, rec, "", "", fmt.Sprintf("unknown tenant %q", tenant))
			continue
		}
		var e schemas.Event
		if err := json.Unmarshal(rec.Value, &e); err != nil {
			reject(tenant, rec, "", "", "value is not a valid event: "+err.Error())
			continue
		}
		msg, probs, err := p.store.prepare(tenant, r, &e, now)
		for _, pr := range probs {
			dead = append(dead, schemas.DeadLetter{
				Tenant: tenant, Stage: "identity", Reason: "dropped: " + pr.Reason, Field: pr.Field,
				MessageID: e.MessageID, Original: json.RawMessage(validJSONOrString(rec.Value)), ReceivedAt: now.UTC(),
			})
		}
		if err != nil {
			reject(tenant, rec, e.MessageID, "", err.Error())
			continue
		}
		items = append(items, pending{tenant: tenant, rules: r, event: e, ts: eventTime(&e, now), in: len(inputs)})
		inputs = append(inputs, applyInput{Tenant: tenant, Msg: msg})
	}
	results, err := p.store.applyBatch(ctx, inputs)
	if err != nil {
		return err
	}
	if p.afterApply != nil {
		if err := p.afterApply(); err != nil {
			return err
		}
	}
	recs := make([]*kgo.Record, 0, len(items)*2+len(dead))
	toMark := make([]applyInput, 0, len(items))
	for i := range items {
		it := &items[i]
		res := &results[it.in]
		typ := it.event.Type
		switch {
		case res.Err != nil:
			p.m.messages.WithLabelValues(it.tenant, typ, "dead_letter").Inc()
			dead = append(dead, schemas.DeadLetter{
				Tenant: it.tenant, Stage: "identity", Reason: res.Err.Error(), MessageID: it.event.MessageID,
				Original: mustJSON(&it.event), ReceivedAt: now.UTC(),
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
				dead = append(dead, schemas.DeadLetter{
					Tenant: it.tenant, Stage: "identity", Reason: "no usable identifier (userId, anonymousId, email, phone, externalIds are missing or blocked)",
					MessageID: it.event.MessageID, Original: mustJSON(&it.event), ReceivedAt: now.UTC(),
				})
			}
		}
		p.m.messages.WithLabelValues(it.tenant, typ, outcome).Inc()
		if n := len(res.Out.Ab); n > 0 && !res.Dup {
			p.m.merges.WithLabelValues(it.tenant).Add(float64(n))
		}
		for _, u := range profileUpdates(it.tenant, it.rules, &it.event, it.ts, &res.Out) {
			rec, err := updateRecord(p.topics.ProfileUpdates, &u)
			if err != nil {
				return fmt.Errorf("identity: encode profile update: %w", err)
			}
			recs = append(recs, rec)
		}
		toMark = append(toMark, inputs[it.in])
	}
	for i := range dead {
		recs = append(recs, deadLetterRecord(p.topics.DeadLetter, &dead[i]))
	}
	if len(recs) > 0 && p.produce != nil {
		if err := p.produce(ctx, recs...); err != nil {
			return fmt.Errorf("identity: publish profile updates: %w", err)
		}
	}
	if err := p.store.markPublished(ctx, toMark); err != nil {
		// Not fatal: a redelivery would republish identical records.
		if errors.Is(err, context.Canceled) {
			return err
		}
		p.log.Warn().Err(err).Msg("could not mark outputs as published")
	}
	return nil
}

// validJSONOrString returns b if it is JSON, else b as a JSON string.
func validJSONOrString(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}
