package identity

import (
	"fmt"
	"time"

	"github.com/user360/user360/internal/defaults"
)

// Config configures the identity stage.
type Config struct {
	// Namespace prefixes every Redis key (default "u360").
	Namespace string
	// Group is the consumer group of the events topic (default "user360-identity").
	Group string
	// MaxPollRecords bounds one batch (default 1000).
	MaxPollRecords int
	// TimelineCap is the number of recent events kept per profile (default 100).
	TimelineCap int
	// CounterLookbackDays is how many days of per-event daily counts are
	// kept (default 90).
	CounterLookbackDays int
	// DedupTTL is how long a messageId is remembered (default 48h, at least 24h).
	DedupTTL time.Duration
	// TombstoneTTL is how long a deleted profile's identifiers refuse older
	// messages (default 7 days, at least DedupTTL: as long as a message may
	// be redelivered).
	TombstoneTTL time.Duration
	// MaxBodyBytes bounds API request bodies (default 4 MiB).
	MaxBodyBytes int64
	// MaxBulk is the most records of POST /v1/users/bulk (default 1000).
	MaxBulk int
	// ProfileCacheSize is how many profiles each processor keeps in memory
	// to plan writes without reading Redis (default 50000; about 1.55 KB of
	// Go heap each with 10 traits and 3 identifiers, so about 78 MB when
	// full; -1 disables the cache: every message then runs apply.lua's full
	// logic). See docs/design/identity.md.
	ProfileCacheSize int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Namespace:           "u360",
		Group:               "user360-identity",
		MaxPollRecords:      1000,
		TimelineCap:         100,
		CounterLookbackDays: 90,
		DedupTTL:            48 * time.Hour,
		TombstoneTTL:        7 * 24 * time.Hour,
		MaxBodyBytes:        4 << 20,
		MaxBulk:             1000,
		ProfileCacheSize:    50000,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	defaults.Set(&c.Namespace, d.Namespace)
	defaults.Set(&c.Group, d.Group)
	defaults.Set(&c.MaxPollRecords, d.MaxPollRecords)
	defaults.Set(&c.TimelineCap, d.TimelineCap)
	defaults.Set(&c.CounterLookbackDays, d.CounterLookbackDays)
	defaults.Set(&c.DedupTTL, d.DedupTTL)
	defaults.Set(&c.TombstoneTTL, d.TombstoneTTL)
	defaults.Set(&c.MaxBodyBytes, d.MaxBodyBytes)
	defaults.Set(&c.MaxBulk, d.MaxBulk)
	defaults.Set(&c.ProfileCacheSize, d.ProfileCacheSize)
	return c
}

// Validate checks the configuration (zero fields take defaults first).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxPollRecords < 1:
		return fmt.Errorf("%w: MaxPollRecords must be at least 1", ErrConfig)
	case c.TimelineCap < 1 || c.TimelineCap > 10000:
		return fmt.Errorf("%w: TimelineCap must be between 1 and 10000", ErrConfig)
	case c.CounterLookbackDays < 1:
		return fmt.Errorf("%w: CounterLookbackDays must be at least 1", ErrConfig)
	case c.DedupTTL < 24*time.Hour:
		return fmt.Errorf("%w: DedupTTL must be at least 24h", ErrConfig)
	case c.TombstoneTTL < c.DedupTTL:
		// a message may be redelivered for as long as its messageId is
		// remembered: a tombstone gone before that lets one that predates
		// the deletion bring the person back
		return fmt.Errorf("%w: TombstoneTTL (%s) must be at least DedupTTL (%s)", ErrConfig, c.TombstoneTTL, c.DedupTTL)
	case c.MaxBulk < 1:
		return fmt.Errorf("%w: MaxBulk must be at least 1", ErrConfig)
	case c.ProfileCacheSize < -1:
		return fmt.Errorf("%w: ProfileCacheSize must be -1 (off) or at least 0", ErrConfig)
	}
	for _, r := range c.Namespace {
		if r == '{' || r == '}' || r == ' ' {
			return fmt.Errorf("%w: Namespace %q must not contain '{', '}' or spaces", ErrConfig, c.Namespace)
		}
	}
	return nil
}
