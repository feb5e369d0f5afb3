package segmenter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// runTimers fires due profile timers of every tenant every TimerTick.
// Timers live in one sorted set per tenant (member profile id, score the
// earliest membership deadline in Unix ms); a claim pushes the score to a
// lease so that instances do not fire the same timer twice, and the
// profile's next write sets the real next deadline.
func (s *Service) runTimers(ctx context.Context) error {
	t := time.NewTicker(s.cfg.TimerTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, tenant := range s.reg.tenants() {
			for {
				n, err := s.fireDue(ctx, tenant)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					s.deps.Log.Warn().Err(err).Str("tenant", tenant).Msg("timers failed; retrying")
					break
				}
				if n < s.cfg.TimerBatch {
					break
				}
			}
		}
	}
}

// fireDue handles up to TimerBatch due timers of a tenant.
func (s *Service) fireDue(ctx context.Context, tenant string) (int, error) {
	now := s.now()
	k := keysFor(s.cfg.Namespace, tenant)
	res, err := evalScript(ctx, s.rdb, claimScript, []string{k.timers()},
		strconv.FormatInt(now.UnixMilli(), 10), s.cfg.TimerBatch,
		strconv.FormatInt(now.Add(s.cfg.TimerLease).UnixMilli(), 10)).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("segmenter: claim timers: %w", err)
	}
	if len(res) == 0 {
		return 0, nil
	}
	ws := make([]*work, len(res))
	for i, id := range res {
		ws[i] = &work{p: &pstate{tenant: tenant, id: id}, apply: s.fireTimers}
	}
	if err := s.process(ctx, ws); err != nil {
		return 0, err
	}
	s.metrics.timers.WithLabelValues(tenant).Add(float64(len(res)))
	return len(res), nil
}

// runSweeper publishes outboxes that a crashed writer left behind.
func (s *Service) runSweeper(ctx context.Context) error {
	t := time.NewTicker(s.cfg.OutboxGrace / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, tenant := range s.deps.Tenants.IDs() {
			if err := s.sweep(ctx, tenant); err != nil && ctx.Err() == nil {
				s.deps.Log.Warn().Err(err).Str("tenant", tenant).Msg("outbox sweep failed")
			}
		}
	}
}

func (s *Service) sweep(ctx context.Context, tenant string) error {
	k := keysFor(s.cfg.Namespace, tenant)
	max := s.now().Add(-s.cfg.OutboxGrace).UnixMilli()
	ids, err := s.rdb.ZRangeByScore(ctx, k.pending(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(max, 10), Count: 500}).Result()
	if err != nil {
		return fmt.Errorf("segmenter: read pending outboxes: %w", err)
	}
	ws := make([]*work, len(ids))
	for i, id := range ids {
		ws[i] = &work{p: &pstate{tenant: tenant, id: id}, apply: func(context.Context, *evalCtx, *pstate) error { return nil }}
	}
	if err := s.process(ctx, ws); err != nil {
		return err
	}
	for _, w := range ws {
		if len(w.p.pending) == 0 {
			// (only if the outbox is still empty: another writer may have
			// filled it since)
			if err := evalScript(ctx, s.rdb, dropPendingScript, []string{k.pending()}, k.outbox(w.p.id), w.p.id).Err(); err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("segmenter: drop pending mark: %w", err)
			}
		}
	}
	return nil
}
