package identity

import (
	"context"
	"encoding/json"
	"errors"
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

// Handle applies a batch and publishes its output (Stage, then its
// finish). It returns an error only for transient failures (Redis or Kafka
// unavailable); the caller retries the same batch and dedup makes the retry
// idempotent. Bad records go to the dead-letter topic.
func (p *Processor) Handle(ctx context.Context, records []*kgo.Record) error {
	finish, err := p.Stage(ctx, records)
	if err != nil {
		return err
	}
	return finish(ctx)
}

// Stage applies a batch in Redis and returns once every message of it is
// applied; publishing its output goes on in the background and finish
// waits for it (a kafka.StagedHandler). The consumer applies the next
// batch meanwhile: a batch's Redis writes, not its publishing, are what
// the next batch depends on. Publishing keeps batch order: a batch
// publishes once the previous batch's publishing is done, or, if that
// failed, leaves everything to its own finish, which the consumer runs
// after the previous one's. A crash before finish returns loses nothing:
// the offsets are not committed, and the redelivered messages republish
// the outputs stored with their dedup marks.
func (p *Processor) Stage(ctx context.Context, records []*kgo.Record) (finish func(context.Context) error, err error) {
	st := &stagedBatch{start: time.Now(), done: make(chan struct{})}
	p.stageMu.Lock()
	prev := p.lastStaged
	p.lastStaged = st
	p.stageMu.Unlock()
	if err := p.stage(ctx, records, prev, st); err != nil {
		p.m.batch.WithLabelValues("error").Observe(time.Since(st.start).Seconds())
		return nil, err
	}
	return func(ctx context.Context) error {
		<-st.done
		err := p.finish(ctx, st)
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		p.m.batch.WithLabelValues(outcome).Observe(time.Since(st.start).Seconds())
		return err
	}, nil
}

// stagedBatch is a batch between Stage and its finish.
type stagedBatch struct {
	start time.Time
	b     builder
	// done is closed when the batch's publishing goroutine has ended;
	// allSent (then) tells whether it published everything it built.
	done    chan struct{}
	allSent bool
}

// stage runs three steps concurrently on chunks of the batch: prepare
// (decode, identifiers, traits), apply (one pipeline per chunk, chunks in
// order on one goroutine, so messages keep their order), build and publish
// (records; in the background, see Stage). It returns when every chunk is
// applied.
func (p *Processor) stage(ctx context.Context, records []*kgo.Record, prev, st *stagedBatch) error {
	now := p.clock()
	jobs := make(chan *chunk, 2)
	applied := make(chan *chunk, 2)
	applyDone := make(chan struct{})
	var applyErr error
	go func() {
		defer close(applied)
		defer close(applyDone)
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
	go func() {
		defer close(st.done)
		var waited, prevSent bool
		var pubErr error
		for c := range applied {
			p.build(&st.b, c, now)
			if !waited {
				waited = true
				prevSent = prev == nil || prev.published()
			}
			if st.b.err == nil && pubErr == nil && prevSent {
				pubErr = p.publish(ctx, &st.b)
			}
		}
		st.allSent = waited && prevSent && pubErr == nil && st.b.err == nil
	}()
	for i := 0; i < len(records); i += chunkSize {
		jobs <- p.prepareChunk(records[i:min(i+chunkSize, len(records))], now)
	}
	close(jobs)
	<-applyDone
	if applyErr != nil {
		<-st.done
		return applyErr
	}
	return nil
}

// published waits for the batch's publishing goroutine and reports
// whether it published everything.
func (st *stagedBatch) published() bool {
	<-st.done
	return st.allSent
}

// finish publishes what the batch's goroutine left (nothing unless a
// publish failed or the previous batch's did), then marks the outputs
// published. Called again after an error, it resends only what is still
// unsent.
func (p *Processor) finish(ctx context.Context, st *stagedBatch) error {
	b := &st.b
	if b.err != nil {
		return b.err
	}
	if err := p.publish(ctx, b); err != nil {
		return err
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
	b.toMark = nil
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
