package segmenter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/user360/user360/internal/kafka"
)

// Service is the segmenter role.
type Service struct {
	cfg     Config
	deps    Deps
	rdb     redis.UniversalClient
	reg     *registry
	jobs    *jobs
	metrics *metrics
	emitter Emitter
	now     func() time.Time
	// held keeps states in memory between batches (Config.WriteBehind).
	held *heldStates
	// producer is the client of the default emitter (closed by Run).
	producer *kgo.Client
	// order keeps each profile's outbox publishing in its writers' order.
	order *pubOrder
}

// New builds the role and subscribes to segment definitions.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case deps.Tenants == nil:
		return nil, fmt.Errorf("%w: Tenants", ErrMissingDep)
	case deps.Redis == nil:
		return nil, fmt.Errorf("%w: Redis", ErrMissingDep)
	case deps.Definitions == nil:
		return nil, fmt.Errorf("%w: Definitions", ErrMissingDep)
	}
	s := &Service{cfg: cfg, deps: deps, rdb: deps.Redis, reg: newRegistry(), jobs: newJobs(), metrics: newMetrics(deps.Metrics), now: deps.Clock,
		order: newPubOrder()}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.WriteBehind {
		s.held = newHeldStates(cfg.WriteBehindMax)
	}
	s.emitter = deps.Emitter
	if s.emitter == nil {
		// Changes go to the segment-changes topic; Handle works before Run.
		cl, err := kafka.NewClient(deps.Kafka)
		if err != nil {
			return nil, fmt.Errorf("segmenter: producer: %w", err)
		}
		s.producer = cl
		s.emitter = &kafkaEmitter{cl: cl, topic: deps.Topics.SegmentChanges}
	}
	deps.Definitions.Subscribe(KindSegment, s.onDefinition)
	return s, nil
}

// onDefinition applies a definition change from internal/defs and queues
// its backfill or deletion job.
func (s *Service) onDefinition(tenant, id string, value json.RawMessage) {
	if value == nil {
		// The deletion job also runs for a tombstone read at start-up, so
		// that a deletion interrupted by a restart is finished.
		c, ok := s.reg.get(tenant, id)
		s.reg.set(tenant, id, nil)
		def := Segment{ID: id}
		if ok {
			def = c.def
		}
		if _, queued := s.jobs.get(tenant, id); !queued || ok {
			s.jobs.add(tenant, def)
		}
		return
	}
	c, err := compile(value)
	if err != nil {
		s.deps.Log.Error().Err(err).Str("tenant", tenant).Str("segment", id).Msg("ignoring invalid segment definition")
		return
	}
	c.def.ID = id
	if s.reg.set(tenant, id, c) {
		s.jobs.add(tenant, c.def)
	}
}

// Run consumes profile updates (when Deps.Kafka has brokers), fires
// timers, runs backfills and sweeps outboxes until ctx ends; it returns nil
// on a clean shutdown. It waits for the definitions to be loaded first.
func (s *Service) Run(ctx context.Context) error {
	if err := s.deps.Definitions.WaitReady(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("segmenter: definitions: %w", err)
	}
	for _, sc := range []*redis.Script{commitScript, clearScript, claimScript, leaseScript, releaseScript} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			if ctx.Err() != nil {
				return nil // stopped while starting: a clean shutdown
			}
			return fmt.Errorf("segmenter: load scripts: %w", err)
		}
	}
	if s.producer != nil {
		defer s.producer.Close()
	}
	var consumer *kafka.Consumer
	if len(s.deps.Kafka.Brokers) > 0 {
		cons, err := kafka.NewStagedConsumer(kafka.ConsumerConfig{
			Client:         s.deps.Kafka,
			Group:          s.cfg.Group,
			Topics:         []string{s.deps.Topics.ProfileUpdates},
			MaxPollRecords: s.cfg.MaxPollRecords,
		}, s.Stage, s.deps.Log)
		if err != nil {
			return fmt.Errorf("segmenter: consumer: %w", err)
		}
		consumer = cons
	}
	g, gctx := errgroup.WithContext(ctx)
	if consumer != nil {
		g.Go(func() error { return consumer.Run(gctx) })
	}
	g.Go(func() error { return s.runTimers(gctx) })
	g.Go(func() error { return s.runJobs(gctx) })
	g.Go(func() error { return s.runSweeper(gctx) })
	err := g.Wait()
	s.order.reset() // a batch the consumer gave up on at shutdown kept its tickets
	if ctx.Err() != nil {
		return nil
	}
	return err
}
