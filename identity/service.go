package identity

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/schemas"
)

// SegmentLister lists the segments a profile is in (the segmenter
// implements it).
type SegmentLister interface {
	ProfileSegments(ctx context.Context, tenant, profileID string) ([]string, error)
}

// Deps are the identity stage's dependencies.
type Deps struct {
	Tenants *config.Tenants
	Redis   redis.UniversalClient
	// Kafka is needed by Run (the consumer); Routes alone works without it.
	Kafka   kafka.ClientConfig
	Topics  schemas.Topics
	Log     zerolog.Logger
	Metrics *prometheus.Registry // may be nil
	Clock   func() time.Time     // nil = time.Now
	// Publisher writes the user API's messages to the events topic (nil:
	// the write endpoints answer 503).
	Publisher *ingest.Publisher
	// Segments fills the segments of profiles (nil: none).
	Segments SegmentLister
	// Traits validates user API traits against the tenant's property schema
	// (nil: no validation); refused values are dropped, reported in the 202
	// and dead-lettered, like the gateway does.
	Traits ingest.TraitValidator
}

// Service is the identity role: the events consumer and the profile and
// user APIs.
type Service struct {
	cfg   Config
	deps  Deps
	store *Store
	m     *metrics
	// consumerOpts are extra client options (tests shorten timeouts).
	consumerOpts []kgo.Opt
	// afterApply is passed to the processor (tests simulate crashes).
	afterApply func() error
}

// New validates the configuration and builds the service.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Tenants == nil {
		return nil, fmt.Errorf("%w: Deps.Tenants is required", ErrConfig)
	}
	if deps.Redis == nil {
		return nil, fmt.Errorf("%w: Deps.Redis is required", ErrConfig)
	}
	if deps.Topics.Events == "" {
		deps.Topics = schemas.NewTopics("")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	store := NewStore(deps.Redis, cfg.Namespace, WithConfig(cfg), WithClock(deps.Clock), WithTenants(deps.Tenants))
	return &Service{cfg: cfg, deps: deps, store: store, m: newMetrics(deps.Metrics)}, nil
}

// Store is the service's Redis store (the segmenter and activation read
// profiles through it).
func (s *Service) Store() *Store { return s.store }

// Run consumes the events topic until ctx is done. Offsets are committed
// after a batch is applied in Redis and its profile updates are acknowledged
// by the broker; the next batch is applied while a batch's updates are
// published (Processor.Stage).
func (s *Service) Run(ctx context.Context) error {
	if err := s.deps.Kafka.Validate(); err != nil {
		return fmt.Errorf("%w: Deps.Kafka: %w", ErrConfig, err)
	}
	var cl *kgo.Client
	produce := func(ctx context.Context, recs ...*kgo.Record) error {
		return cl.ProduceSync(ctx, recs...).FirstErr()
	}
	proc := newProcessor(s.store, s.deps.Tenants, s.deps.Topics, produce, s.deps.Log, s.m)
	proc.afterApply = s.afterApply
	c, err := kafka.NewStagedConsumer(kafka.ConsumerConfig{
		Client:         s.deps.Kafka,
		Group:          s.cfg.Group,
		Topics:         []string{s.deps.Topics.Events},
		MaxPollRecords: s.cfg.MaxPollRecords,
	}, proc.Stage, s.deps.Log, s.consumerOpts...)
	if err != nil {
		return fmt.Errorf("identity: consumer: %w", err)
	}
	cl = c.Client()
	return c.Run(ctx)
}

// Routes registers the profile API and the user API.
func (s *Service) Routes(mux *http.ServeMux) {
	auth := func(route string, h http.HandlerFunc) http.Handler {
		return s.count(route, httpx.RequireAPIKey(s.deps.Tenants, h))
	}
	mux.Handle("GET /v1/profiles", auth("profiles.list", s.listProfiles))
	mux.Handle("GET /v1/profiles/{ref}", auth("profiles.get", s.getProfile))
	mux.Handle("DELETE /v1/profiles/{ref}", auth("profiles.delete", s.deleteProfile))
	mux.Handle("GET /v1/profiles/{ref}/events", auth("profiles.events", s.profileEvents))
	mux.Handle("GET /v1/profiles/{ref}/identities", auth("profiles.identities", s.profileIdentities))
	mux.Handle("GET /v1/profiles/{ref}/merges", auth("profiles.merges", s.profileMerges))
	mux.Handle("GET /v1/profiles/{ref}/segments", auth("profiles.segments", s.profileSegments))
	mux.Handle("POST /v1/users", auth("users.upsert", s.upsertUser))
	mux.Handle("POST /v1/users/bulk", auth("users.bulk", s.bulkUsers))
	mux.Handle("PUT /v1/users/{userId}", auth("users.update", s.updateUser))
	mux.Handle("GET /v1/users/{userId}", auth("users.get", s.getUser))
	mux.Handle("DELETE /v1/users/{userId}", auth("users.delete", s.deleteUser))
	mux.Handle("POST /v1/events", auth("events.create", s.createEvent))
}

// statusRecorder remembers the status code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// count records the route and status class of every request.
func (s *Service) count(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.m.api.WithLabelValues(route, fmt.Sprintf("%dxx", rec.status/100)).Inc()
	})
}
