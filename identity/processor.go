package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
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
	// tenantNames: one string per tenant name (recordTenant's, shared)
	tenantNames tenantNames
	// sink receives the profile updates instead of produce (SendUpdatesTo).
	sink func([]Update)
	// fallbackLeft: chunks that still send plans with their messages
	// (see apply).
	fallbackLeft atomic.Int32
	// cpu gates the CPU-bound steps of staged batches (see cpuGate).
	cpu cpuGate
	// lastStaged is the batch staged last: the next one publishes after
	// it (see Stage).
	stageMu    sync.Mutex
	lastStaged *stagedBatch
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
		cache: newProfileCache(store.cfg.ProfileCacheSize), cpu: newCPUGate()}
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
	records []*kgo.Record
	items   []pending
	inputs  []applyInput // inputs[i] belongs to items[i]
	dead    []schemas.DeadLetter
	results []applyResult
}

// chunkSize is how many messages go into one pipeline: small enough that
// preparing the next chunk (Go) overlaps with applying this one (Redis),
// large enough that Redis seldom waits between pipelines. 512 against 256:
// +3.5 % on the identity mix (14 pairs), once the cpuGate kept a P for the
// apply goroutine (before it, 512 measured −3.5 %); 1024: 0.982 (6 pairs).
const chunkSize = 512

// recordTenant reads the tenant header, else the key prefix.
func recordTenant(r *kgo.Record) string { return (*tenantNames)(nil).of(r) }

// tenantNames gives every record of a tenant the same string for its
// name, so that messages and cached profiles share one instead of
// holding a copy each (one allocation a message less, and one object a
// cached profile less for the collector to mark). A nil *tenantNames
// copies.
type tenantNames struct {
	mu sync.Mutex
	m  map[string]string
}

// maxTenantNames bounds the names kept (beyond it, names are copied).
const maxTenantNames = 4096

// of reads a record's tenant as recordTenant does.
func (t *tenantNames) of(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == schemas.HeaderTenant {
			return t.intern(h.Value)
		}
	}
	if tenant, _, ok := schemas.SplitKey(r.Key); ok {
		return tenant
	}
	return ""
}

func (t *tenantNames) intern(b []byte) string {
	if t == nil {
		return string(b)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if t.m == nil {
		t.m = map[string]string{}
	}
	if len(t.m) < maxTenantNames {
		t.m[s] = s
	}
	return s
}

// prepareChunk decodes records into script messages; bad ones become dead
// letters.
func (p *Processor) prepareChunk(records []*kgo.Record, now time.Time) *chunk {
	c := &chunk{records: records, items: make([]pending, 0, len(records)), inputs: make([]applyInput, 0, len(records))}
	dead := func(tenant, mid, field, reason string, raw []byte) {
		c.dead = append(c.dead, schemas.DeadLetter{
			Tenant: tenant, Stage: "identity", Reason: reason, Field: field, MessageID: mid,
			Original: json.RawMessage(validJSONOrString(raw)), ReceivedAt: now.UTC(),
		})
	}
	for _, rec := range records {
		tenant := p.tenantNames.of(rec)
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
// forgets it, unless the broker refused it; toMark stays for the end of
// the batch).
func (p *Processor) publish(ctx context.Context, b *builder) error {
	if p.afterApply != nil {
		if err := p.afterApply(); err != nil {
			b.err = err // a simulated crash: the batch never finishes
			return err
		}
	}
	if p.sink != nil && len(b.ups) > 0 {
		p.sink(b.ups)
		b.ups = nil
	}
	recs := append(b.unsent, b.recs...)
	for i := range b.dead {
		recs = append(recs, deadLetterRecord(p.topics.DeadLetter, &b.dead[i]))
	}
	b.recs, b.dead, b.unsent = nil, nil, nil
	if len(recs) > 0 && p.produce != nil {
		if err := p.produce(ctx, recs...); err != nil {
			b.unsent = recs // sent again by the next publish
			return fmt.Errorf("identity: publish profile updates: %w", err)
		}
	}
	return nil
}

// builder collects the output of a batch.
type builder struct {
	recs   []*kgo.Record
	unsent []*kgo.Record // records of a failed publish
	ups    []Update      // with a sink (SendUpdatesTo) instead of recs
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
