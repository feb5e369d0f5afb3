package segmenter

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/schemas"
)

// KindSegment is the internal/defs kind of segment definitions.
const KindSegment = "segment"

// Sentinel errors.
var (
	// ErrSegmentNotFound is returned for an unknown segment id.
	ErrSegmentNotFound = errors.New("segmenter: segment not found")
	// ErrBadCursor is returned by ScanMembers for a cursor it did not return.
	ErrBadCursor = errors.New("segmenter: invalid cursor")
	// ErrConflict is returned when a state write lost a race too many times.
	ErrConflict = errors.New("segmenter: concurrent update conflict")
	// ErrMissingDep is returned by New for a missing dependency.
	ErrMissingDep = errors.New("segmenter: missing dependency")
)

// ProfileSource reads profiles for backfill and preview (implemented by the
// identity store). ScanProfiles pages through a tenant's profiles (cursor ""
// starts; a returned cursor "" ends); ProfileEvents returns a profile's
// recent timeline and per-day counts.
type ProfileSource interface {
	ScanProfiles(ctx context.Context, tenant, cursor string, limit int) ([]schemas.Profile, string, error)
	ProfileEvents(ctx context.Context, tenant, profileID string) (schemas.ProfileEvents, error)
}

// Definitions is the durable definition store (implemented by *defs.Store).
type Definitions interface {
	Put(ctx context.Context, kind, tenant, id string, value any) error
	Delete(ctx context.Context, kind, tenant, id string) error
	Subscribe(kind string, fn func(tenant, id string, value json.RawMessage))
	WaitReady(ctx context.Context) error
}

// Emitter publishes segment changes and returns after they are durable.
// Deps.Emitter nil means the segment-changes topic through Deps.Kafka.
type Emitter interface {
	Emit(ctx context.Context, changes []schemas.SegmentChange) error
}

// Deps are the segmenter's dependencies.
type Deps struct {
	Tenants *config.Tenants
	Redis   redis.UniversalClient
	Kafka   kafka.ClientConfig
	Topics  schemas.Topics
	Log     zerolog.Logger
	// Metrics may be nil.
	Metrics *prometheus.Registry
	// Clock is nil for time.Now.
	Clock func() time.Time
	// Definitions stores segment definitions (required).
	Definitions Definitions
	// Profiles feeds backfill and preview (nil: new segments start empty and
	// fill from live updates only).
	Profiles ProfileSource
	// Emitter overrides the Kafka producer (tests, benchmarks).
	Emitter Emitter
}
