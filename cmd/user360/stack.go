package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/metrics"
	"github.com/user360/user360/schemas"
)

// Roles a process can run.
var allRoles = []string{"ingest", "identity", "segmenter", "activation"}

// parseRoles checks a comma-separated role list.
func parseRoles(s string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !slices.Contains(allRoles, r) {
			return nil, fmt.Errorf("unknown role %q (roles: %s)", r, strings.Join(allRoles, ", "))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no role given")
	}
	return out, nil
}

// stackConfig is everything a process needs, already parsed.
type stackConfig struct {
	Roles       []string
	Brokers     []string
	TopicPrefix string
	Partitions  int32
	Redis       redis.UniversalClient
	Tenants     *config.Tenants
	HTTPAddr    string
	// Namespace is the active generation of the derived state (identity,
	// segmenter); runGenerations sets it from the generation pointer.
	Namespace string
	Log       zerolog.Logger
	// RebuildFromLog restarts the stateful consumers (identity, segmenter)
	// from the start of the log: `user360 dev` sets it when its Redis is the
	// embedded, empty one, so a restart with --data-dir rebuilds the state.
	RebuildFromLog []string
}

// component is one long-running part of a role.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// stack is the wired process: its HTTP server, its stages and the clients
// they share.
type stack struct {
	cfg      stackConfig
	topics   schemas.Topics
	kcfg     kafka.ClientConfig
	reg      *prometheus.Registry
	mux      *http.ServeMux
	producer *kgo.Client
	defs     *defs.Store
	stages   []component
	server   *httpx.Server
}

func has(roles []string, r string) bool { return slices.Contains(roles, r) }

// newStack builds every component of the chosen roles.
func newStack(ctx context.Context, cfg stackConfig) (*stack, error) {
	s := &stack{
		cfg:    cfg,
		topics: schemas.NewTopics(cfg.TopicPrefix),
		kcfg:   kafka.ClientConfig{Brokers: cfg.Brokers, ClientID: "user360"},
		reg:    metrics.NewRegistry(),
		mux:    http.NewServeMux(),
	}
	producer, err := kafka.NewClient(s.kcfg)
	if err != nil {
		return nil, err
	}
	s.producer = producer
	if err := s.ensureTopics(ctx); err != nil {
		producer.Close()
		return nil, err
	}
	if len(cfg.RebuildFromLog) > 0 {
		if err := kafka.DeleteGroups(ctx, producer, cfg.RebuildFromLog...); err != nil {
			producer.Close()
			return nil, err
		}
	}
	d, err := defs.New(defs.Config{Client: s.kcfg, Topic: s.topics.Definitions}, cfg.Log.With().Str("component", "defs").Logger())
	if err != nil {
		producer.Close()
		return nil, err
	}
	s.defs = d
	if err := s.wireRoles(); err != nil {
		producer.Close()
		return nil, err
	}
	s.opsRoutes()
	srv, err := httpx.Listen(cfg.HTTPAddr, s.mux)
	if err != nil {
		producer.Close()
		return nil, err
	}
	s.server = srv
	return s, nil
}

// ensureTopics creates the pipeline's topics, retrying while the broker is
// starting (docker-compose starts everything at once).
func (s *stack) ensureTopics(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 30; attempt++ {
		if err = kafka.EnsureTopics(ctx, s.producer, s.cfg.Partitions, -1, s.topics.Events, s.topics.ProfileUpdates, s.topics.SegmentChanges, s.topics.DeadLetter); err == nil {
			return nil
		}
		s.cfg.Log.Warn().Err(err).Msg("waiting for Kafka")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return err
}

// publisher returns a Publisher on the shared producer client.
func (s *stack) publisher(source string) *ingest.Publisher {
	return ingest.NewPublisher(s.producer, s.topics, source)
}

// run serves until ctx ends, then shuts down in order: stop intake (HTTP),
// drain and commit the consumers, flush the producer, close the clients.
func (s *stack) run(ctx context.Context) error {
	s.cfg.Log.Info().Str("http", s.server.Addr()).Strs("roles", s.cfg.Roles).Msg("user360 started")
	stagesCtx, stopStages := context.WithCancel(context.Background())
	defer stopStages()
	defsDone := make(chan error, 1)
	go func() { defsDone <- s.defs.Run(stagesCtx) }()
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err := s.defs.WaitReady(readyCtx)
	cancel()
	if err != nil {
		stopStages()
		<-defsDone
		s.producer.Close()
		return fmt.Errorf("reading definitions: %w", err)
	}

	stages, _ := errgroup.WithContext(stagesCtx)
	failed := make(chan error, len(s.stages)+1)
	for _, c := range s.stages {
		stages.Go(func() error {
			err := c.run(stagesCtx)
			if err != nil {
				err = fmt.Errorf("%s: %w", c.name, err)
				failed <- err
			}
			return err
		})
	}
	httpCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.server.Run(httpCtx) }()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-failed:
		s.cfg.Log.Error().Err(runErr).Msg("a stage failed; shutting down")
	case runErr = <-httpDone:
		httpDone <- runErr
	}
	// 1. Stop intake.
	stopHTTP()
	if err := <-httpDone; err != nil && runErr == nil {
		runErr = err
	}
	// 2. Drain the stages: each finishes its batch, commits and leaves.
	stopStages()
	if err := stages.Wait(); err != nil && runErr == nil {
		runErr = err
	}
	<-defsDone
	// 3. Flush what is still buffered, then close.
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := s.producer.Flush(fctx); err != nil {
		s.cfg.Log.Warn().Err(err).Msg("flushing the producer")
	}
	cancel()
	s.producer.Close()
	s.cfg.Log.Info().Msg("user360 stopped")
	return runErr
}
