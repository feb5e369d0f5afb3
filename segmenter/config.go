package segmenter

import (
	"errors"
	"fmt"
	"time"

	"github.com/user360/user360/internal/defaults"
)

// Config configures the segmenter role.
type Config struct {
	// Namespace prefixes every Redis key (default "u360").
	Namespace string
	// Group is the consumer group of the profile-updates topic
	// (default "user360-segmenter").
	Group string
	// MaxPollRecords bounds one batch (default 1000).
	MaxPollRecords int
	// TimerTick is how often due timers are looked for (default 100ms; a
	// time-caused change is published within TimerTick plus processing).
	TimerTick time.Duration
	// TimerBatch is the most due timers handled per tenant and tick
	// (default 500).
	TimerBatch int
	// TimerLease is how long a claimed timer stays hidden from other
	// instances before it is retried (default 30s).
	TimerLease time.Duration
	// BackfillPage is the number of profiles read per backfill step
	// (default 200).
	BackfillPage int
	// JobLease is how long a backfill or deletion job stays owned by an
	// instance without renewal (default 30s).
	JobLease time.Duration
	// JobPoll is how often unfinished jobs are retried (default 1s).
	JobPoll time.Duration
	// OutboxGrace is the age after which an unpublished outbox is flushed by
	// the sweeper (default 5s).
	OutboxGrace time.Duration
	// PreviewScan bounds the profiles a preview evaluates (default 5000).
	PreviewScan int
	// MaxBodyBytes bounds API request bodies (default 1 MiB).
	MaxBodyBytes int64
	// MaxSegments bounds the segments of one tenant (default 20000).
	MaxSegments int
	// DiscardChanges: nothing will publish the changes (a replay into a
	// new generation, whose emitter discards them), so no outbox entries
	// are written; memberships and their transition numbers are kept as
	// usual.
	DiscardChanges bool
	// UpdatesHoldAllHistory: every event of every profile reaches this
	// segmenter as a profile update (a replay into a new generation, whose
	// identity store holds nothing the replay did not apply), so event
	// conditions start empty instead of being seeded from the identity
	// store's timeline and counts.
	UpdatesHoldAllHistory bool
	// WriteBehind keeps profile states in memory between batches and
	// writes them to Redis on Flush, or all at once when more than
	// WriteBehindMax are held (default 200000, about 1 KB each), instead
	// of after every batch. Only for a namespace that no other segmenter
	// writes and nothing reads before Flush (a replay into a new
	// generation); it requires DiscardChanges, as nothing is published.
	WriteBehind    bool
	WriteBehindMax int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Namespace:      "u360",
		Group:          "user360-segmenter",
		MaxPollRecords: 1000,
		TimerTick:      100 * time.Millisecond,
		TimerBatch:     500,
		TimerLease:     30 * time.Second,
		BackfillPage:   200,
		JobLease:       30 * time.Second,
		JobPoll:        time.Second,
		OutboxGrace:    5 * time.Second,
		PreviewScan:    5000,
		MaxBodyBytes:   1 << 20,
		MaxSegments:    20000,
		WriteBehindMax: 200000,
	}
}

// ErrInvalidConfig wraps configuration errors.
var ErrInvalidConfig = errors.New("segmenter: invalid config")

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	defaults.Set(&c.Namespace, d.Namespace)
	defaults.Set(&c.Group, d.Group)
	defaults.Set(&c.MaxPollRecords, d.MaxPollRecords)
	defaults.Set(&c.TimerTick, d.TimerTick)
	defaults.Set(&c.TimerBatch, d.TimerBatch)
	defaults.Set(&c.TimerLease, d.TimerLease)
	defaults.Set(&c.BackfillPage, d.BackfillPage)
	defaults.Set(&c.JobLease, d.JobLease)
	defaults.Set(&c.JobPoll, d.JobPoll)
	defaults.Set(&c.OutboxGrace, d.OutboxGrace)
	defaults.Set(&c.PreviewScan, d.PreviewScan)
	defaults.Set(&c.MaxBodyBytes, d.MaxBodyBytes)
	defaults.Set(&c.MaxSegments, d.MaxSegments)
	defaults.Set(&c.WriteBehindMax, d.WriteBehindMax)
	return c
}

// Validate checks the configuration (zero fields take defaults first).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxPollRecords < 1, c.TimerBatch < 1, c.BackfillPage < 1, c.PreviewScan < 1, c.MaxSegments < 1:
		return fmt.Errorf("%w: counts must be positive", ErrInvalidConfig)
	case c.TimerTick < time.Millisecond || c.TimerTick > time.Second:
		return fmt.Errorf("%w: TimerTick must be between 1ms and 1s", ErrInvalidConfig)
	case c.TimerLease < time.Second, c.JobLease < time.Second:
		return fmt.Errorf("%w: leases must be at least 1s", ErrInvalidConfig)
	case c.WriteBehind && !c.DiscardChanges:
		return fmt.Errorf("%w: WriteBehind requires DiscardChanges", ErrInvalidConfig)
	}
	return nil
}
