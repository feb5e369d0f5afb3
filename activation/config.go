package activation

import (
	"errors"
	"fmt"
	"time"

	"github.com/user360/user360/internal/defaults"
)

// Config configures the activation role. Zero values are replaced by the
// defaults of DefaultConfig in New.
type Config struct {
	// Namespace prefixes every Redis key (default "u360").
	Namespace string
	// Group is the consumer group on the segment-changes topic
	// (default "user360-activation").
	Group string
	// Timeout bounds one webhook call (default 10s).
	Timeout time.Duration
	// BaseBackoff is the first retry delay; it doubles per attempt, with
	// jitter, up to MaxBackoff (defaults 1s and 10m).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter caps a receiver's Retry-After (default 1h).
	MaxRetryAfter time.Duration
	// MaxAge is how long a job may be retried before it fails, unless the
	// destination sets its own (default 24h).
	MaxAge time.Duration
	// Concurrency bounds the calls in flight per destination (default 8).
	Concurrency int
	// PollInterval is how often a dispatcher looks for due jobs when nothing
	// woke it (default 250ms). Jobs parked by this process wake it at once.
	PollInterval time.Duration
	// Lease is how long a claimed queue head stays reserved for the claiming
	// dispatcher before another instance may take it over (default
	// Timeout + 30s).
	Lease time.Duration
	// BreakerThreshold consecutive failures open a destination's circuit
	// for BreakerCooldown (defaults 5 and 30s).
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// ExportPageSize is the number of members read per page by exports
	// (default 1000).
	ExportPageSize int
	// MaxPollRecords bounds a consumed batch (default 1000).
	MaxPollRecords int
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		Namespace:        "u360",
		Group:            "user360-activation",
		Timeout:          10 * time.Second,
		BaseBackoff:      time.Second,
		MaxBackoff:       10 * time.Minute,
		MaxRetryAfter:    time.Hour,
		MaxAge:           24 * time.Hour,
		Concurrency:      8,
		PollInterval:     250 * time.Millisecond,
		BreakerThreshold: 5,
		BreakerCooldown:  30 * time.Second,
		ExportPageSize:   1000,
		MaxPollRecords:   1000,
	}
}

// ErrInvalidConfig wraps every configuration error.
var ErrInvalidConfig = errors.New("activation: invalid config")

// withDefaults fills zero values.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	defaults.Set(&c.Namespace, d.Namespace)
	defaults.Set(&c.Group, d.Group)
	defaults.Set(&c.Timeout, d.Timeout)
	defaults.Set(&c.BaseBackoff, d.BaseBackoff)
	defaults.Set(&c.MaxBackoff, d.MaxBackoff)
	defaults.Set(&c.MaxRetryAfter, d.MaxRetryAfter)
	defaults.Set(&c.MaxAge, d.MaxAge)
	defaults.Set(&c.Concurrency, d.Concurrency)
	defaults.Set(&c.PollInterval, d.PollInterval)
	if c.Lease == 0 {
		c.Lease = c.Timeout + 30*time.Second
	}
	defaults.Set(&c.BreakerThreshold, d.BreakerThreshold)
	defaults.Set(&c.BreakerCooldown, d.BreakerCooldown)
	defaults.Set(&c.ExportPageSize, d.ExportPageSize)
	defaults.Set(&c.MaxPollRecords, d.MaxPollRecords)
	return c
}

// Validate checks the configuration (after defaults are applied).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Timeout < 0, c.BaseBackoff < 0, c.MaxBackoff < c.BaseBackoff, c.MaxAge < 0, c.PollInterval < 0, c.BreakerCooldown < 0, c.MaxRetryAfter < 0:
		return fmt.Errorf("%w: durations must be positive and MaxBackoff >= BaseBackoff", ErrInvalidConfig)
	case c.Lease <= c.Timeout:
		return fmt.Errorf("%w: Lease (%s) must exceed Timeout (%s)", ErrInvalidConfig, c.Lease, c.Timeout)
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return fmt.Errorf("%w: Concurrency must be 1..1024", ErrInvalidConfig)
	case c.BreakerThreshold < 1:
		return fmt.Errorf("%w: BreakerThreshold must be at least 1", ErrInvalidConfig)
	case c.ExportPageSize < 1 || c.ExportPageSize > 10000:
		return fmt.Errorf("%w: ExportPageSize must be 1..10000", ErrInvalidConfig)
	}
	return nil
}
