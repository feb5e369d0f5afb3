package defs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/schemas"
)

// Sentinel errors.
var (
	ErrInvalidName = errors.New("defs: kind, tenant and id must be non-empty and contain no '/'")
	ErrClosed      = errors.New("defs: store is not running")
)

const headerKind = "user360-kind"

// Config configures a Store.
type Config struct {
	Client kafka.ClientConfig
	// Topic is the compacted definitions topic (schemas.Topics.Definitions).
	Topic string
	// Partitions of the topic when the store creates it (default 1).
	Partitions int32
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := c.Client.Validate(); err != nil {
		return err
	}
	if c.Topic == "" {
		return errors.New("defs: topic is required")
	}
	return nil
}

// Entry is one definition.
type Entry struct {
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Store is the in-memory view of the definitions topic.
type Store struct {
	cfg Config
	log zerolog.Logger
	cl  *kgo.Client

	mu      sync.RWMutex
	data    map[string]map[string]map[string]json.RawMessage // kind → tenant → id → value
	applied map[int32]int64                                  // partition → next offset applied
	cond    *sync.Cond                                       // signalled when applied moves

	subMu sync.Mutex // held while applying a record and while subscribing
	subs  map[string][]func(tenant, id string, value json.RawMessage)

	ready   chan struct{}
	running bool
}

// New creates the store's client; Run starts tailing.
func New(cfg Config, log zerolog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	cl, err := kafka.NewClient(cfg.Client,
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:     cfg,
		log:     log,
		cl:      cl,
		data:    map[string]map[string]map[string]json.RawMessage{},
		applied: map[int32]int64{},
		subs:    map[string][]func(string, string, json.RawMessage){},
		ready:   make(chan struct{}),
	}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// Run creates the topic if needed, tails it until ctx ends, then closes the
// client.
func (s *Store) Run(ctx context.Context) error {
	defer s.cl.Close()
	if err := s.ensureTopic(ctx); err != nil {
		return err
	}
	ends, err := s.endOffsets(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	s.maybeReady(ends)
	for {
		fetches := s.cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			s.log.Warn().Err(err).Str("topic", topic).Int32("partition", p).Msg("definitions fetch error")
		})
		fetches.EachRecord(s.apply)
		s.maybeReady(ends)
	}
}

func (s *Store) ensureTopic(ctx context.Context) error {
	adm := kadm.NewClient(s.cl)
	cleanup := "compact"
	resp, err := adm.CreateTopics(ctx, s.cfg.Partitions, -1, map[string]*string{"cleanup.policy": &cleanup}, s.cfg.Topic)
	if err != nil {
		return fmt.Errorf("defs: create topic: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return fmt.Errorf("defs: create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

func (s *Store) endOffsets(ctx context.Context) (map[int32]int64, error) {
	adm := kadm.NewClient(s.cl)
	for {
		lo, err := adm.ListEndOffsets(ctx, s.cfg.Topic)
		if err == nil {
			if err = lo.Error(); err == nil {
				ends := map[int32]int64{}
				lo.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
				return ends, nil
			}
		}
		s.log.Warn().Err(err).Msg("definitions: listing end offsets; retrying")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Store) maybeReady(ends map[int32]int64) {
	select {
	case <-s.ready:
		return
	default:
	}
	s.mu.RLock()
	caught := true
	for p, end := range ends {
		if s.applied[p] < end {
			caught = false
			break
		}
	}
	s.mu.RUnlock()
	if caught {
		close(s.ready)
	}
}

// WaitReady blocks until the store has read the topic up to where it ended
// when Run started.
func (s *Store) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) apply(r *kgo.Record) {
	tenant, rest, ok := schemas.SplitKey(r.Key)
	kind, id, ok2 := strings.Cut(rest, "/")
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.mu.Lock()
	if ok && ok2 {
		byTenant := s.data[kind]
		if byTenant == nil {
			byTenant = map[string]map[string]json.RawMessage{}
			s.data[kind] = byTenant
		}
		byID := byTenant[tenant]
		if byID == nil {
			byID = map[string]json.RawMessage{}
			byTenant[tenant] = byID
		}
		if r.Value == nil {
			delete(byID, id)
		} else {
			byID[id] = json.RawMessage(r.Value)
		}
	}
	subs := s.subs[kind]
	s.mu.Unlock()
	if ok && ok2 {
		var v json.RawMessage
		if r.Value != nil {
			v = json.RawMessage(r.Value)
		}
		for _, fn := range subs {
			fn(tenant, id, v)
		}
	}
	// Advance the applied offset only after the subscribers ran, so that a
	// Put returns once this process's stages (the segmenter's registry, …)
	// know the change.
	s.mu.Lock()
	s.applied[r.Partition] = r.Offset + 1
	s.cond.Broadcast()
	s.mu.Unlock()
}

func validName(parts ...string) bool {
	for _, p := range parts {
		if p == "" || strings.Contains(p, "/") {
			return false
		}
	}
	return true
}

// Put stores a definition (value is JSON-encoded) and returns once it is in
// the log and in this store's cache.
func (s *Store) Put(ctx context.Context, kind, tenant, id string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("defs: encode %s %s: %w", kind, id, err)
	}
	return s.write(ctx, kind, tenant, id, b)
}

// Delete removes a definition (a tombstone in the log).
func (s *Store) Delete(ctx context.Context, kind, tenant, id string) error {
	return s.write(ctx, kind, tenant, id, nil)
}

func (s *Store) write(ctx context.Context, kind, tenant, id string, value []byte) error {
	if !validName(kind, tenant, id) {
		return ErrInvalidName
	}
	rec := &kgo.Record{
		Topic: s.cfg.Topic,
		Key:   schemas.Key(tenant, kind+"/"+id),
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderTenant, Value: []byte(tenant)},
			{Key: headerKind, Value: []byte(kind)},
		},
	}
	if err := s.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("defs: write %s %s: %w", kind, id, err)
	}
	return s.waitApplied(ctx, rec.Partition, rec.Offset)
}

func (s *Store) waitApplied(ctx context.Context, partition int32, offset int64) error {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.applied[partition] <= offset {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !s.running {
			return ErrClosed
		}
		s.cond.Wait()
	}
	return nil
}

// Get returns one definition.
func (s *Store) Get(kind, tenant, id string) (json.RawMessage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.data[kind][tenant][id]
	return v, ok
}

// List returns a tenant's definitions of a kind, sorted by id.
func (s *Store) List(kind, tenant string) []Entry {
	s.mu.RLock()
	byID := s.data[kind][tenant]
	out := make([]Entry, 0, len(byID))
	for id, v := range byID {
		out = append(out, Entry{ID: id, Value: v})
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Tenants lists the tenants that have definitions of a kind.
func (s *Store) Tenants(kind string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.data[kind]))
	for t := range s.data[kind] {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Subscribe calls fn for every current definition of a kind and then for
// every change (value nil means deleted), in log order.
func (s *Store) Subscribe(kind string, fn func(tenant, id string, value json.RawMessage)) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.mu.Lock()
	var current []struct {
		tenant, id string
		v          json.RawMessage
	}
	for tenant, byID := range s.data[kind] {
		for id, v := range byID {
			current = append(current, struct {
				tenant, id string
				v          json.RawMessage
			}{tenant, id, v})
		}
	}
	s.subs[kind] = append(s.subs[kind], fn)
	s.mu.Unlock()
	for _, c := range current {
		fn(c.tenant, c.id, c.v)
	}
}
