package activation

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/schemas"
)

// KindDestination is the internal/defs kind of destination definitions.
const KindDestination = "destination"

// Sentinel errors.
var (
	// ErrSegmentNotFound is what a MemberSource returns (wrapped) for an
	// unknown segment; Deps.SegmentNotFound may name another sentinel.
	ErrSegmentNotFound = errors.New("activation: segment not found")
	// ErrInvalidDestination wraps every validation error of a destination.
	ErrInvalidDestination = errors.New("activation: invalid destination")
	// ErrPrivateAddress is returned for webhook URLs that resolve to
	// loopback, private, link-local or otherwise internal addresses.
	ErrPrivateAddress = errors.New("activation: webhook address is not public")
	// ErrNotRunning is returned by operations that need Run.
	ErrNotRunning = errors.New("activation: service is not running")
)

// Definitions is the durable definition store (implemented by
// *defs.Store).
type Definitions interface {
	Put(ctx context.Context, kind, tenant, id string, value any) error
	Delete(ctx context.Context, kind, tenant, id string) error
	Get(kind, tenant, id string) (json.RawMessage, bool)
	List(kind, tenant string) []defs.Entry
	Subscribe(kind string, fn func(tenant, id string, value json.RawMessage))
	WaitReady(ctx context.Context) error
}

// *defs.Store is the production Definitions.
var _ Definitions = (*defs.Store)(nil)

// MemberSource pages through a segment's members (implemented by the
// segmenter). An unknown segment is an error wrapping ErrSegmentNotFound or
// Deps.SegmentNotFound. cursor "" starts; a returned cursor "" ends.
type MemberSource interface {
	ScanMembers(ctx context.Context, tenant, segmentID, cursor string, limit int) ([]string, string, error)
}

// ProfileReader reads profiles by id (implemented by the identity store).
// Missing profiles are left out of the result.
type ProfileReader interface {
	GetProfiles(ctx context.Context, tenant string, ids []string) ([]schemas.Profile, error)
}

// Deps are the dependencies of the activation role.
type Deps struct {
	Tenants *config.Tenants
	Redis   redis.UniversalClient
	Kafka   kafka.ClientConfig
	Topics  schemas.Topics
	Log     zerolog.Logger
	// Metrics receives the role's collectors when non-nil.
	Metrics *prometheus.Registry
	// Clock is the time source (nil = time.Now).
	Clock func() time.Time

	// Defs stores destination definitions (kind "destination").
	Defs Definitions
	// Members and Profiles serve exports; when nil the export route
	// answers 501.
	Members  MemberSource
	Profiles ProfileReader
	// SegmentNotFound is an extra sentinel that means "unknown segment"
	// in errors of Members (e.g. segmenter.ErrSegmentNotFound).
	SegmentNotFound error
}

func (d Deps) now() time.Time {
	if d.Clock != nil {
		return d.Clock()
	}
	return time.Now()
}
