package activation

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/schemas"
)

// dispatcher delivers one destination's jobs: it claims due queue heads,
// calls the webhook with bounded concurrency and settles the outcomes in
// batches. A slow or failing receiver only holds up its own dispatcher.
type dispatcher struct {
	s      *Service
	tenant string
	id     string
	keys   keys
	dest   atomic.Pointer[Destination]
	wake   chan struct{}
	br     breaker
	cancel context.CancelFunc
	done   chan struct{}
	// lastWarn rate-limits the dispatcher's Redis warnings (one per 10s)
	// so that an outage does not flood the log.
	lastWarn time.Time
}

func (d *dispatcher) warn(err error, msg string) {
	now := time.Now()
	if now.Sub(d.lastWarn) < 10*time.Second {
		return
	}
	d.lastWarn = now
	d.s.log.Warn().Err(err).Str("tenant", d.tenant).Str("destination", d.id).Msg(msg)
}

func (s *Service) newDispatcher(d *Destination) *dispatcher {
	dp := &dispatcher{s: s, tenant: d.Tenant, id: d.ID, keys: newKeys(s.cfg.Namespace, d.Tenant, d.ID),
		wake: make(chan struct{}, 1), br: breaker{threshold: s.cfg.BreakerThreshold, cooldown: s.cfg.BreakerCooldown}}
	dp.dest.Store(d)
	return dp
}

// poke wakes the dispatcher without blocking.
func (d *dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	d.cancel = cancel
	d.done = make(chan struct{})
	go func() {
		defer close(d.done)
		d.run(ctx)
	}()
}

func (d *dispatcher) stop() {
	if d.cancel != nil {
		d.cancel()
		<-d.done
	}
}

func (d *dispatcher) run(ctx context.Context) {
	cfg := d.s.cfg
	results := make(chan *outcome, cfg.Concurrency)
	tick := time.NewTicker(cfg.PollInterval)
	defer tick.Stop()
	inflight := 0
	done := ctx.Done()
	for {
		if ctx.Err() == nil {
			slots := d.br.allowed(d.s.now(), cfg.Concurrency) - inflight
			if slots > 0 {
				jobs, err := claim(ctx, d.s.deps.Redis, d.keys, d.s.now(), cfg.Lease, slots)
				if err != nil && ctx.Err() == nil {
					d.warn(err, "claim failed")
				}
				for _, j := range jobs {
					inflight++
					go func(j *job) { results <- d.deliver(ctx, j) }(j)
				}
			}
		} else if inflight == 0 {
			return
		}
		select {
		case <-done:
			done = nil
		case <-d.wake:
		case <-tick.C:
		case o := <-results:
			batch := []*outcome{o}
		drain:
			for {
				select {
				case o := <-results:
					batch = append(batch, o)
				default:
					break drain
				}
			}
			inflight -= len(batch)
			d.settle(batch)
		}
	}
}

// deliver makes one call for a job and decides its outcome.
func (d *dispatcher) deliver(ctx context.Context, j *job) *outcome {
	dest := d.dest.Load()
	cfg := d.s.cfg
	o := &outcome{job: j, retrying: j.Attempts > 0}
	body, err := buildBody(dest.Format, j.Change, j.ID)
	if err != nil {
		o.mode, o.reason = "fail", err.Error()
		return o
	}
	start := d.s.now()
	res := call(ctx, d.s.client(dest.Tenant), dest, j.ID, body, start)
	now := d.s.now()
	if ctx.Err() != nil {
		// Shutting down: give the queue head back for another instance.
		o.mode = "release"
		return o
	}
	j.Attempts++
	j.LastAttempt = now.UnixMilli()
	j.LastStatus = res.status
	if res.ok() {
		o.mode = "ok"
		o.latencyMs = max(0, now.UnixMilli()-j.EventAt)
		j.LastError = ""
		return o
	}
	j.LastError = res.err.Error()
	o.status = res.status
	if !res.retryable {
		o.mode = "fail"
		o.reason = fmt.Sprintf("permanent failure: %v", res.err)
		return o
	}
	delay := backoff(cfg.BaseBackoff, cfg.MaxBackoff, j.Attempts)
	if res.retryAfter > 0 {
		delay = min(res.retryAfter, cfg.MaxRetryAfter)
	}
	deadline := time.UnixMilli(j.EnqueuedAt).Add(dest.maxAge(cfg.MaxAge))
	if now.Add(delay).After(deadline) {
		o.mode = "fail"
		o.reason = fmt.Sprintf("gave up after %d attempts (max age %s): %v", j.Attempts, dest.maxAge(cfg.MaxAge), res.err)
		return o
	}
	o.mode = "retry"
	o.dueAt = now.Add(delay)
	return o
}

// settle writes outcomes: dead letters first (so a failure is in the log
// before it leaves the queue), then one pipeline of settle scripts. On
// errors the leases expire and the jobs are delivered again.
func (d *dispatcher) settle(batch []*outcome) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := d.s.now()
	var dead []*kgo.Record
	for _, o := range batch {
		if o.mode == "fail" {
			dead = append(dead, d.s.deadLetter(d.tenant, o.job.ID, "activation: destination "+d.id+": "+o.reason, o.job.Change, now))
		}
	}
	if len(dead) > 0 {
		if err := d.s.produce(ctx, dead...); err != nil {
			d.warn(err, "dead-letter produce failed; retrying the jobs later")
			for _, o := range batch {
				if o.mode == "fail" {
					o.mode, o.dueAt = "retry", now.Add(d.s.cfg.BaseBackoff)
				}
			}
		}
	}
	calls := make([]scriptCall, 0, len(batch))
	for _, o := range batch {
		c, err := settleCall(d.keys, o, now)
		if err != nil {
			d.s.log.Error().Err(err).Str("destination", d.id).Msg("settle")
			continue
		}
		calls = append(calls, c)
		d.observe(o, now)
	}
	if _, err := runScripts(ctx, d.s.deps.Redis, calls); err != nil {
		d.warn(err, "settle failed; leases will expire and the jobs be retried")
	}
}

func (d *dispatcher) observe(o *outcome, now time.Time) {
	m := d.s.metrics
	switch o.mode {
	case "ok":
		m.calls.WithLabelValues(d.tenant, d.id, "delivered").Inc()
		m.latency.WithLabelValues(d.tenant, d.id).Observe(float64(o.latencyMs) / 1000)
	case "retry":
		m.calls.WithLabelValues(d.tenant, d.id, "retry").Inc()
	case "fail":
		m.calls.WithLabelValues(d.tenant, d.id, "failed").Inc()
	}
	if o.mode == "ok" || (o.mode == "fail" && !o.retryableFail()) {
		d.br.record(true, now)
	} else if o.mode == "retry" || o.mode == "fail" {
		if d.br.record(false, now) {
			d.s.log.Warn().Str("tenant", d.tenant).Str("destination", d.id).Msg("circuit breaker opened")
		}
	}
	open := 0.0
	if d.br.state(now) == breakerOpen {
		open = 1
	}
	m.breaker.WithLabelValues(d.tenant, d.id).Set(open)
}

// retryableFail: a failure after retries (the receiver is unhealthy), as
// opposed to a permanent 4xx (the receiver answered).
func (o *outcome) retryableFail() bool {
	return o.status == 0 || o.status == 408 || o.status == 429 || o.status >= 500
}

// deadLetter builds a dead-letter record of the activation stage.
func (s *Service) deadLetter(tenant, messageID, reason string, original json.RawMessage, now time.Time) *kgo.Record {
	dl := schemas.DeadLetter{Tenant: tenant, Stage: "activation", Reason: reason, MessageID: messageID,
		Original: original, ReceivedAt: now.UTC()}
	if !json.Valid(original) {
		b, _ := json.Marshal(string(original))
		dl.Original = b
	}
	v, _ := json.Marshal(dl)
	id := messageID
	if id == "" {
		id = "activation"
	}
	return &kgo.Record{Topic: s.deps.Topics.DeadLetter, Key: schemas.Key(tenant, id), Value: v,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderTenant, Value: []byte(tenant)},
			{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaDeadLetter)},
			{Key: schemas.HeaderSource, Value: []byte("activation")},
			{Key: schemas.HeaderContentType, Value: []byte("application/json")},
		}}
}
