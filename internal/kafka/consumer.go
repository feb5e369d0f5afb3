package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/wait"
)

// Handler processes one polled batch of records. It must be idempotent: after
// a crash the same records are delivered again. Returning an error makes the
// loop retry the same batch (with backoff) without committing.
type Handler func(ctx context.Context, records []*kgo.Record) error

// StagedHandler processes a batch in two stages. It returns once the batch's
// own state changes, the part that later batches build on, are made or
// queued to be made before the next batch's; the finish it returns (nil:
// nothing left) completes the batch, typically by publishing its output,
// waits for queued changes, and must be idempotent like the handler. The
// consumer applies the next batches while earlier ones finish, runs the
// finishes one at a time in batch order, and commits a batch's offsets only
// after its finish returned nil. An error from the handler retries the same
// batch; an error from finish retries finish (both with backoff).
type StagedHandler func(ctx context.Context, records []*kgo.Record) (finish func(context.Context) error, err error)

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
	// MaxInFlight bounds the batches of a StagedHandler that are applied
	// and wait for their finish (default 2).
	MaxInFlight int
	// DrainInterval is how long a StagedHandler's batches may follow each
	// other without a pause: at least this often the loop waits until
	// every applied batch is finished and committed and lets a pending
	// rebalance run (default 250ms). It also drains whenever no record is
	// waiting.
	DrainInterval time.Duration
	// ShutdownGrace is how long finishes may still run after the loop's
	// context ended (default 10s); what is not finished by then is not
	// committed, and comes again to the next member.
	ShutdownGrace time.Duration
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
	for name, v := range map[string]int64{"MaxPollRecords": int64(c.MaxPollRecords), "MaxInFlight": int64(c.MaxInFlight),
		"RetryBackoff": int64(c.RetryBackoff), "DrainInterval": int64(c.DrainInterval), "ShutdownGrace": int64(c.ShutdownGrace)} {
		if v < 0 {
			return fmt.Errorf("kafka: consumer %s must not be negative", name)
		}
	}
	return nil
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = 1000
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 100 * time.Millisecond
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 2
	}
	if c.DrainInterval == 0 {
		c.DrainInterval = 250 * time.Millisecond
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	return c
}

// Consumer polls a consumer group and commits offsets only after the handler
// has applied a batch: at-least-once delivery, exactly-once effect with an
// idempotent handler.
type Consumer struct {
	cfg     ConsumerConfig
	cl      *kgo.Client
	handler StagedHandler
	log     zerolog.Logger
}

// NewConsumer builds the group client for a one-stage handler: each batch
// is applied and committed before the next poll. extra options are appended
// (tests use them to shorten session timeouts).
func NewConsumer(cfg ConsumerConfig, h Handler, log zerolog.Logger, extra ...kgo.Opt) (*Consumer, error) {
	return NewStagedConsumer(cfg, func(ctx context.Context, records []*kgo.Record) (func(context.Context) error, error) {
		return nil, h(ctx, records)
	}, log, extra...)
}

// NewStagedConsumer builds the group client for a StagedHandler.
func NewStagedConsumer(cfg ConsumerConfig, h StagedHandler, log zerolog.Logger, extra ...kgo.Opt) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
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

// idlePoll bounds a poll while applied batches wait for their finish: when
// no record comes in that time, the loop drains instead of waiting.
const idlePoll = 5 * time.Millisecond

// Run polls until ctx is done, then lets applied batches finish (within
// ShutdownGrace), leaves the group and closes the client.
//
// Rebalances are blocked from a poll until AllowRebalance, which the loop
// calls only when no batch is applied and unfinished: a revoked
// partition's offsets are never committed after another member took it
// over, and no member publishes a batch that another member is applying.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.cl.Close()
	fin := newFinisher(c, ctx)
	defer fin.close()
	lastDrain := time.Now()
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if fin.pending() {
			pollCtx, cancel = context.WithTimeout(ctx, idlePoll)
		}
		fetches := c.cl.PollRecords(pollCtx, c.cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			fin.drain()
			c.cl.AllowRebalance()
			return nil
		}
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				c.log.Warn().Err(err).Str("topic", topic).Int32("partition", p).Msg("fetch error")
			}
		})
		records := fetches.Records()
		if len(records) > 0 {
			finish, err := c.apply(ctx, records)
			if err != nil {
				fin.drain()
				c.cl.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if finish == nil && !fin.pending() {
				// the finisher's context: a batch applied while shutdown
				// began is still committed (within ShutdownGrace)
				c.commit(fin.ctx, records)
			} else if !fin.push(ctx, records, finish) {
				continue // ctx ended: the next turn drains and returns
			}
		}
		if len(records) == 0 || !fin.pending() || time.Since(lastDrain) >= c.cfg.DrainInterval {
			fin.drain()
			c.cl.AllowRebalance()
			lastDrain = time.Now()
		}
	}
}

// apply runs the handler until it succeeds (or ctx ends).
func (c *Consumer) apply(ctx context.Context, records []*kgo.Record) (finish func(context.Context) error, err error) {
	ok := c.retry(ctx, "batch failed; retrying", len(records), func() error {
		finish, err = c.handler(ctx, records)
		return err
	}, nil)
	if !ok {
		return nil, ctx.Err()
	}
	return finish, nil
}

// retry calls fn until it returns nil (true), waiting RetryBackoff after a
// failure, doubling up to 5s. It gives up (false) when ctx ends during a
// wait, or when giveUp (may be nil) says so after a failure.
func (c *Consumer) retry(ctx context.Context, msg string, records int, fn func() error, giveUp func() bool) bool {
	backoff := c.cfg.RetryBackoff
	for {
		err := fn()
		if err == nil {
			return true
		}
		if giveUp != nil && giveUp() {
			return false
		}
		c.log.Error().Err(err).Int("records", records).Dur("retry_in", backoff).Msg(msg)
		if !wait.Sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// commit commits the batch's offsets. A failure is not fatal: the records
// are applied and will be re-applied idempotently after a rebalance.
func (c *Consumer) commit(ctx context.Context, records []*kgo.Record) {
	if err := c.cl.CommitRecords(ctx, records...); err != nil && ctx.Err() == nil {
		c.log.Warn().Err(err).Msg("commit failed")
	}
}

// Close leaves the group and closes the client (Run does this on return).
func (c *Consumer) Close() { c.cl.Close() }

// String names the consumer in logs.
func (c *Consumer) String() string { return fmt.Sprintf("consumer(%s)", c.cfg.Group) }
