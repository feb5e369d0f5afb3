package replay

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// Sentinel errors.
var (
	// ErrOptions is returned for an invalid or unsafe combination of options.
	ErrOptions = errors.New("replay: invalid options")
	// ErrBadGeneration is returned for a namespace that is not a generation.
	ErrBadGeneration = errors.New("replay: not a generation namespace")
	// ErrTargetNotEmpty is returned when the new generation's namespace
	// already holds keys (a previous, interrupted replay): delete them or
	// pass Target explicitly with Resume.
	ErrTargetNotEmpty = errors.New("replay: target namespace is not empty")
	// ErrTargetLocked is returned when another replay holds the target
	// generation's lock (LockKey).
	ErrTargetLocked = errors.New("replay: target generation is locked by another replay")
	// ErrLockLost ends a replay whose target lock expired or was taken
	// over while it ran (its renewals failed for longer than the TTL).
	ErrLockLost = errors.New("replay: lost the target generation's lock")
	// ErrGenerationMoved is returned by a switch when the pointer no
	// longer holds the generation the replay planned from: it is left
	// alone.
	ErrGenerationMoved = errors.New("replay: the active generation changed meanwhile")
)

// DefaultBatch is the number of records handed to the identity processor at
// once.
const DefaultBatch = 5000

// Options of one replay.
type Options struct {
	// Kafka, Topics: the cluster and topic names (Topics zero = default prefix).
	Kafka  kafka.ClientConfig
	Topics schemas.Topics
	// Redis holds every generation and the pointer key.
	Redis redis.UniversalClient
	// Tenants gives identity rules and time zones (required).
	Tenants *config.Tenants
	// Definitions is a ready definition store (segments); nil: Run starts
	// its own on Topics.Definitions and waits until it caught up.
	Definitions segmenter.Definitions

	// From is the earliest record time to replay (zero = the start of the
	// log); To the latest (zero = up to the end captured at start). Both
	// are Kafka record timestamps (the time the gateway published).
	From, To time.Time
	// Tenant restricts the replay to one tenant; only with IntoLive or
	// Segment.
	Tenant string
	// Segment backfills one segment of Tenant from the log window instead
	// of replaying everything: its event conditions' state is rebuilt
	// from the window's matching events in the live namespace, and the
	// changes are published (see segment.go). No generation, no switch.
	Segment string
	// IntoLive replays into the active namespace instead of a new
	// generation (no switch; idempotent re-application).
	IntoLive bool
	// DryRun computes and returns the plan only.
	DryRun bool
	// NoSwitch leaves the new generation built but not active.
	NoSwitch bool
	// Base is the base namespace (default "u360"); Target overrides the new
	// generation's namespace (default NextNamespace of the active one).
	Base, Target string
	// Resume restarts an interrupted replay into a target generation that
	// already holds keys: they are deleted first (see clearTarget).
	Resume bool

	// Identity and Segmenter configure the stages (Namespace and Group are
	// set by the replay).
	Identity  identity.Config
	Segmenter segmenter.Config
	// Batch is the number of records per identity batch (default DefaultBatch).
	Batch int

	// Progress receives progress output (nil = none); Terminal draws a
	// progress bar with rate and ETA instead of plain lines.
	Progress io.Writer
	Terminal bool
	// ProgressEvery is the interval of plain progress lines (default 5s).
	ProgressEvery time.Duration

	Log     zerolog.Logger
	Metrics *prometheus.Registry // may be nil
	Clock   func() time.Time     // nil = time.Now
}

// validate fills defaults and refuses unsafe combinations.
func (o *Options) validate() error {
	switch {
	case o.Redis == nil:
		return fmt.Errorf("%w: Redis is required", ErrOptions)
	case o.Tenants == nil:
		return fmt.Errorf("%w: Tenants is required (replay needs each tenant's identity rules)", ErrOptions)
	}
	if err := o.Kafka.Validate(); err != nil {
		return fmt.Errorf("%w: Kafka: %w", ErrOptions, err)
	}
	if o.Topics.Events == "" {
		o.Topics = schemas.NewTopics("")
	}
	if o.Base == "" {
		o.Base = DefaultBase
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if !o.From.IsZero() && !o.To.IsZero() && o.To.Before(o.From) {
		return fmt.Errorf("%w: --to %s is before --from %s", ErrOptions, o.To.Format(time.RFC3339), o.From.Format(time.RFC3339))
	}
	if o.Segment != "" {
		return o.validateSegment()
	}
	if o.Tenant != "" {
		if _, ok := o.Tenants.Get(o.Tenant); !ok {
			return fmt.Errorf("%w: unknown tenant %q", ErrOptions, o.Tenant)
		}
		if !o.IntoLive {
			return fmt.Errorf("%w: a tenant-scoped replay can only rebuild into the live namespace (--into-live): a new generation must hold every tenant", ErrOptions)
		}
	}
	if o.IntoLive {
		if o.Target != "" {
			return fmt.Errorf("%w: --into-live writes the active namespace; do not set a target", ErrOptions)
		}
		if o.NoSwitch {
			return fmt.Errorf("%w: --into-live never switches; --no-switch is meaningless with it", ErrOptions)
		}
	}
	if o.Target != "" && GenerationNumber(o.Base, o.Target) < 2 {
		return fmt.Errorf("%w: target %q is not a new generation of %q (want %sg<N>, N ≥ 2)", ErrOptions, o.Target, o.Base, o.Base)
	}
	if !o.IntoLive && !o.From.IsZero() && !o.NoSwitch {
		return fmt.Errorf("%w: a new generation built from --from onwards lacks the older history; switching to it would lose state (use --no-switch to inspect it, or --into-live to re-apply a window)", ErrOptions)
	}
	if !o.IntoLive && !o.To.IsZero() && !o.NoSwitch {
		return fmt.Errorf("%w: a generation that stops at --to misses the records after it; it cannot be switched to (add --no-switch)", ErrOptions)
	}
	return nil
}
