package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Handler processes one polled batch of records. It must be idempotent: after
// a crash the same records are delivered again. Returning an error makes the
// loop retry the same batch (with backoff) without committing.
type Handler func(ctx context.Context, records []*kgo.Record) error

// ConsumerConfig configures a consumer-group loop.
type ConsumerConfig struct {
	Client ClientConfig
	Group  string
	Topics []string
	// MaxPollRecords bounds one batch (default 1000).
	MaxPollRecords int
	// RetryBackoff is the first wait after a failed batch (default 100ms,
	// doubling up to 5s).
	RetryBackoff time.Duration
	// ResetToEarliest starts a new group at the log's start (default true
	// for the pipeline: the log is the source of truth).
	FromLatest bool
}

// Validate checks the configuration.
func (c ConsumerConfig) Validate() error {
	if err := c.Client.Validate(); err != nil {
		return err
	}
	if c.Group == "" {
		return errors.New("kafka: consumer group is required")
	}
	if len(c.Topics) == 0 {
		return errors.New("kafka: at least one topic is required")
	}
	return nil
}

// Consumer polls a consumer group and commits offsets only after the handler
// has applied a batch: at-least-once delivery, exactly-once effect with an
// idempotent handler.
type Consumer struct {
	cfg     ConsumerConfig
	cl      *kgo.Client
	handler Handler
	log     zerolog.Logger
}

// NewConsumer builds the group client. extra options are appended (tests use
// them to shorten session timeouts).
func NewConsumer(cfg ConsumerConfig, h Handler, log zerolog.Logger, extra ...kgo.Opt) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 1000
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 100 * time.Millisecond
	}
	reset := kgo.NewOffset().AtStart()
	if cfg.FromLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(reset),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}
	opts = append(opts, extra...)
	cl, err := NewClient(cfg.Client, opts...)
	if err != nil {
		return nil, err
	}
	return &Consumer{cfg: cfg, cl: cl, handler: h, log: log}, nil
}

// Client is the underlying client (to produce from within a handler).
func (c *Consumer) Client() *kgo.Client { return c.cl }

// Run polls until ctx is done, then leaves the group and closes the client.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.cl.Close()
	for {
		fetches := c.cl.PollRecords(ctx, c.cfg.MaxPollRecords)
		if ctx.Err() != nil {
			c.cl.AllowRebalance()
			return nil
		}
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn().Err(err).Str("topic", topic).Int32("partition", p).Msg("fetch error")
			}
		})
		records := fetches.Records()
		if len(records) > 0 {
			if err := c.apply(ctx, records); err != nil {
				c.cl.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		c.cl.AllowRebalance()
	}
}

// apply runs the handler until it succeeds (or ctx ends), then commits.
func (c *Consumer) apply(ctx context.Context, records []*kgo.Record) error {
	backoff := c.cfg.RetryBackoff
	for {
		err := c.handler(ctx, records)
		if err == nil {
			break
		}
		c.log.Error().Err(err).Int("records", len(records)).Dur("retry_in", backoff).Msg("batch failed; retrying")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	if err := c.cl.CommitRecords(ctx, records...); err != nil {
		// Not fatal: the records are applied and will be re-applied
		// idempotently after a rebalance.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn().Err(err).Msg("commit failed")
		return nil
	}
	return nil
}

// Close leaves the group and closes the client (Run does this on return).
func (c *Consumer) Close() { c.cl.Close() }

// String names the consumer in logs.
func (c *Consumer) String() string { return fmt.Sprintf("consumer(%s)", c.cfg.Group) }
