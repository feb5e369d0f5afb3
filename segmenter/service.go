package segmenter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
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
	s := &Service{cfg: cfg, deps: deps, rdb: deps.Redis, reg: newRegistry(), jobs: newJobs(), metrics: newMetrics(deps.Metrics), now: deps.Clock}
	if s.now == nil {
		s.now = time.Now
	}
	s.emitter = deps.Emitter
	deps.Definitions.Subscribe(KindSegment, s.onDefinition)
	return s, nil
}

// onDefinition applies a definition change from internal/defs and queues
// its backfill or deletion job.
func (s *Service) onDefinition(tenant, id string, value json.RawMessage) {
	if value == nil {
		c, ok := s.reg.get(tenant, id)
		if s.reg.set(tenant, id, nil) && ok {
			s.jobs.add(tenant, c.def)
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

// Run consumes profile updates, fires timers, runs backfills and sweeps
// outboxes until ctx ends; it returns nil on a clean shutdown. It waits for
// the definitions to be loaded first.
func (s *Service) Run(ctx context.Context) error {
	if err := s.deps.Definitions.WaitReady(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("segmenter: definitions: %w", err)
	}
	for _, sc := range []*redis.Script{commitScript, clearScript, claimScript, leaseScript} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("segmenter: load scripts: %w", err)
		}
	}
	var producer *kafka.Consumer
	if s.emitter == nil || len(s.deps.Kafka.Brokers) > 0 {
		cons, err := kafka.NewConsumer(kafka.ConsumerConfig{
			Client:         s.deps.Kafka,
			Group:          s.cfg.Group,
			Topics:         []string{s.deps.Topics.ProfileUpdates},
			MaxPollRecords: s.cfg.MaxPollRecords,
		}, s.Handle, s.deps.Log)
		if err != nil {
			return fmt.Errorf("segmenter: consumer: %w", err)
		}
		producer = cons
		if s.emitter == nil {
			s.emitter = &kafkaEmitter{cl: cons.Client(), topic: s.deps.Topics.SegmentChanges}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	if producer != nil {
		g.Go(func() error { return producer.Run(gctx) })
	}
	g.Go(func() error { return s.runTimers(gctx) })
	g.Go(func() error { return s.runJobs(gctx) })
	g.Go(func() error { return s.runSweeper(gctx) })
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}
