package csvimport

import (
	"context"
	"errors"
	"time"

	"github.com/user360/user360/internal/config"
)

// Service is the CSV import: the HTTP API and the importer.
type Service struct {
	cfg  Config
	deps Deps
	jobs *jobStore
	m    *metrics
}

// New builds the service.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Tenants == nil || deps.Redis == nil || deps.Publisher == nil || deps.Schema == nil {
		return nil, errors.New("csvimport: Tenants, Redis, Publisher and Schema are required")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	return &Service{
		cfg:  cfg,
		deps: deps,
		jobs: &jobStore{rdb: deps.Redis, ns: cfg.Namespace, ttl: cfg.JobTTL, maxErrors: cfg.MaxErrorLines, staleAfter: cfg.StaleAfter},
		m:    newMetrics(deps.Metrics),
	}, nil
}

// Run blocks until ctx is done. Imports run in their HTTP requests; the
// server's shutdown cancels them (they are then reported failed, and
// importing the same file again completes them without duplicates).
func (s *Service) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Status returns the state of an import of a tenant (ErrNotFound).
func (s *Service) Status(ctx context.Context, tenant *config.Tenant, id string) (*Status, error) {
	if !jobIDRE.MatchString(id) {
		return nil, ErrNotFound
	}
	return s.jobs.get(ctx, tenant.ID, id, s.deps.Clock())
}
