package activation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/kafka"
)

// Service is the activation role.
type Service struct {
	cfg      Config
	deps     Deps
	log      zerolog.Logger
	metrics  *metrics
	consumer *kafka.Consumer
	strict   *http.Client // public addresses only
	open     *http.Client // tenants with AllowPrivateWebhooks

	mu     sync.Mutex
	dests  map[string]map[string]*dispatcher // tenant → id → dispatcher
	runCtx context.Context                   // set while Run runs

	purgeDelay time.Duration // before the second purge of a deleted destination (under mu)
}

// New builds the role. Destinations are read from Deps.Defs (subscribed at
// once); Run starts consuming and delivering.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case deps.Tenants == nil:
		return nil, fmt.Errorf("%w: Deps.Tenants is required", ErrInvalidConfig)
	case deps.Redis == nil:
		return nil, fmt.Errorf("%w: Deps.Redis is required", ErrInvalidConfig)
	case deps.Defs == nil:
		return nil, fmt.Errorf("%w: Deps.Defs is required", ErrInvalidConfig)
	case deps.Topics.SegmentChanges == "" || deps.Topics.DeadLetter == "":
		return nil, fmt.Errorf("%w: Deps.Topics must name segment-changes and deadletter", ErrInvalidConfig)
	}
	s := &Service{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Log.With().Str("role", "activation").Logger(),
		metrics: newMetrics(deps.Metrics),
		strict:  newHTTPClient(cfg.Timeout, false, cfg.Concurrency),
		open:    newHTTPClient(cfg.Timeout, true, cfg.Concurrency),
		dests:   map[string]map[string]*dispatcher{},

		purgeDelay: defaultPurgeDelay,
	}
	cc := kafka.ConsumerConfig{Client: deps.Kafka, Group: cfg.Group, Topics: []string{deps.Topics.SegmentChanges},
		MaxPollRecords: cfg.MaxPollRecords}
	if cc.Client.ClientID == "" {
		cc.Client.ClientID = "user360-activation"
	}
	c, err := kafka.NewConsumer(cc, s.handle, s.log)
	if err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	s.consumer = c
	deps.Defs.Subscribe(KindDestination, s.onDestination)
	return s, nil
}

func (s *Service) now() time.Time { return s.deps.now() }

// client picks the HTTP client a tenant may use.
func (s *Service) client(tenant string) *http.Client {
	if t, ok := s.deps.Tenants.Get(tenant); ok && t.AllowPrivateWebhooks {
		return s.open
	}
	return s.strict
}

// produce writes records and waits for the broker's acknowledgement.
func (s *Service) produce(ctx context.Context, recs ...*kgo.Record) error {
	if err := s.consumer.Client().ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("activation: produce: %w", err)
	}
	return nil
}

// Run consumes segment changes and runs the dispatchers until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if err := s.deps.Defs.WaitReady(ctx); err != nil {
		if ctx.Err() != nil {
			s.consumer.Close()
			return nil
		}
		return fmt.Errorf("activation: definitions: %w", err)
	}
	s.mu.Lock()
	s.runCtx = ctx
	for _, byID := range s.dests {
		for _, d := range byID {
			d.start(ctx)
		}
	}
	s.mu.Unlock()
	err := s.consumer.Run(ctx)
	s.mu.Lock()
	s.runCtx = nil
	var all []*dispatcher
	for _, byID := range s.dests {
		for _, d := range byID {
			all = append(all, d)
		}
	}
	s.mu.Unlock()
	for _, d := range all {
		d.stop()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("activation: consumer: %w", err)
	}
	return nil
}

// onDestination applies a definition change (from internal/defs, in log
// order) to the running dispatchers.
func (s *Service) onDestination(tenant, id string, value json.RawMessage) {
	var d *Destination
	if value != nil {
		d = new(Destination)
		if err := json.Unmarshal(value, d); err != nil {
			s.log.Error().Err(err).Str("tenant", tenant).Str("destination", id).Msg("unreadable destination definition; ignored")
			d = nil
		} else {
			d.Tenant, d.ID = tenant, id
		}
	}
	s.mu.Lock()
	byID := s.dests[tenant]
	cur := byID[id]
	switch {
	case d == nil && cur != nil:
		delete(byID, id)
		s.mu.Unlock()
		go func() {
			cur.stop()
			s.metrics.forget(tenant, id)
		}()
		return
	case d != nil && cur != nil:
		cur.dest.Store(d)
	case d != nil:
		if byID == nil {
			byID = map[string]*dispatcher{}
			s.dests[tenant] = byID
		}
		dp := s.newDispatcher(d)
		byID[id] = dp
		if s.runCtx != nil {
			dp.start(s.runCtx)
		}
	}
	s.mu.Unlock()
}

// dispatchers returns a tenant's dispatchers.
func (s *Service) dispatchers(tenant string) []*dispatcher {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*dispatcher, 0, len(s.dests[tenant]))
	for _, d := range s.dests[tenant] {
		out = append(out, d)
	}
	return out
}

func (s *Service) dispatcher(tenant, id string) *dispatcher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dests[tenant][id]
}
