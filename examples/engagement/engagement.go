package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultTopic is the segment-changes topic of the default prefix.
const DefaultTopic = "user360.segment-changes"

// Change is a segment entry or exit as the topic carries it.
type Change struct {
	Type        string     `json:"type"` // segment.entered or segment.exited
	MessageID   string     `json:"messageId"`
	Tenant      string     `json:"tenant"`
	SegmentID   string     `json:"segmentId"`
	SegmentName string     `json:"segmentName"`
	ProfileID   string     `json:"profileId"`
	UserID      string     `json:"userId,omitempty"`
	Identities  []Identity `json:"identities"`
	Timestamp   time.Time  `json:"timestamp"`
	Cause       string     `json:"cause"`
}

// Identity is one identifier of the profile (email, phone, user_id, …).
type Identity struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Entered says whether the change is an entry.
func (c Change) Entered() bool { return c.Type == "segment.entered" }

// Config configures Consume.
type Config struct {
	Brokers []string
	// Topic defaults to DefaultTopic.
	Topic string
	// GroupID is this module's consumer group (default "engagement-example").
	GroupID string
	// FromLatest starts a new group at the end of the topic instead of its
	// start.
	FromLatest bool
	// Logger receives skipped records (default log.Default()).
	Logger *log.Logger
}

// Handler processes one change; an error stops Consume without committing
// the change, so it is read again by the next Consume of the group.
type Handler func(ctx context.Context, c Change) error

// Consume reads changes in the consumer group and calls fn for each, in
// order per partition, committing each after fn returns nil. It returns nil
// when ctx ends.
func Consume(ctx context.Context, cfg Config, fn Handler) error {
	if len(cfg.Brokers) == 0 {
		return errors.New("engagement: no brokers")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.GroupID == "" {
		cfg.GroupID = "engagement-example"
	}
	if cfg.Logger == nil {
		cfg.Logger = log.Default()
	}
	start := kafka.FirstOffset
	if cfg.FromLatest {
		start = kafka.LastOffset
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.GroupID,
		Topic:             cfg.Topic,
		StartOffset:       start,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           250 * time.Millisecond,
		CommitInterval:    0, // synchronous commits: at-least-once
		JoinGroupBackoff:  250 * time.Millisecond,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
	})
	defer r.Close()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("engagement: fetch: %w", err)
		}
		var c Change
		if err := json.Unmarshal(m.Value, &c); err != nil || c.MessageID == "" || c.ProfileID == "" {
			cfg.Logger.Printf("engagement: skipping unreadable record at %s/%d@%d", m.Topic, m.Partition, m.Offset)
		} else if err := fn(ctx, c); err != nil {
			return fmt.Errorf("engagement: handler: %w", err)
		}
		// The change is handled: commit it even if ctx just ended, so a
		// restart does not see it again.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = r.CommitMessages(cctx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("engagement: commit: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}
