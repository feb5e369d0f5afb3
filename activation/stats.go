package activation

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/internal/wait"
)

// Stats are a destination's delivery counters, shared by every instance.
type Stats struct {
	Delivered int64        `json:"delivered"`
	Failed    int64        `json:"failed"`
	Retrying  int64        `json:"retrying"` // jobs waiting for a retry
	Pending   int64        `json:"pending"`  // jobs parked (due, in flight or retrying)
	Latency   LatencyStats `json:"latency"`
	// Breaker is this instance's circuit state: closed, open, half-open.
	Breaker string `json:"breaker"`
}

// LatencyStats summarise the time from the topic to a delivery; the
// percentiles are upper bounds of fixed buckets.
type LatencyStats struct {
	Count int64 `json:"count"`
	AvgMs int64 `json:"avgMs"`
	P50Ms int64 `json:"p50Ms"`
	P99Ms int64 `json:"p99Ms"`
}

// StatsOf reads a destination's stats.
func (s *Service) StatsOf(ctx context.Context, tenant, id string) (Stats, error) {
	k := newKeys(s.cfg.Namespace, tenant, id)
	pipe := s.deps.Redis.Pipeline()
	all := pipe.HGetAll(ctx, k.stats())
	pending := pipe.HLen(ctx, k.jobs())
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return Stats{}, fmt.Errorf("activation: stats: %w", err)
	}
	m := all.Val()
	num := func(f string) int64 { n, _ := strconv.ParseInt(m[f], 10, 64); return n }
	st := Stats{Delivered: num("delivered"), Failed: num("failed"), Retrying: max(0, num("retrying")), Pending: pending.Val(), Breaker: breakerClosed}
	st.Latency.Count = st.Delivered
	if st.Delivered > 0 {
		st.Latency.AvgMs = num("latency_ms_sum") / st.Delivered
	}
	st.Latency.P50Ms = percentile(m, st.Delivered, 0.50)
	st.Latency.P99Ms = percentile(m, st.Delivered, 0.99)
	if d := s.dispatcher(tenant, id); d != nil {
		st.Breaker = d.br.state(s.now())
	}
	return st, nil
}

func percentile(m map[string]string, total int64, q float64) int64 {
	if total == 0 {
		return 0
	}
	want := int64(float64(total)*q + 0.999999)
	var acc int64
	for _, b := range latencyBuckets {
		n, _ := strconv.ParseInt(m["lat_le_"+strconv.FormatInt(b, 10)], 10, 64)
		acc += n
		if acc >= want {
			return b
		}
	}
	return -1 // beyond the last bucket
}

func (s *Service) getStats(w http.ResponseWriter, r *http.Request) {
	d, ok := s.loadOr404(w, r)
	if !ok {
		return
	}
	st, err := s.StatsOf(r.Context(), d.Tenant, d.ID)
	if err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "stats are unavailable; retry", "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

// purge removes a deleted destination's Redis state: its queues, pending
// jobs, failures and stats.
func (s *Service) purge(ctx context.Context, tenant, id string) error {
	k := newKeys(s.cfg.Namespace, tenant, id)
	rdb := s.deps.Redis
	var cursor uint64
	for {
		profiles, next, err := rdb.ZScan(ctx, k.due(), cursor, "", 500).Result()
		if err != nil {
			return fmt.Errorf("activation: purge: %w", err)
		}
		var qs []string
		for i := 0; i < len(profiles); i += 2 {
			qs = append(qs, k.queue(profiles[i]))
		}
		if len(qs) > 0 {
			if err := rdb.Del(ctx, qs...).Err(); err != nil {
				return fmt.Errorf("activation: purge: %w", err)
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if err := rdb.Del(ctx, k.due(), k.jobs(), k.fail(), k.failz(), k.stats()).Err(); err != nil {
		return fmt.Errorf("activation: purge: %w", err)
	}
	return nil
}

// Delayed purges of deleted destinations: the first runs purgeDelay after
// the DELETE (longer than the definitions take to reach every instance,
// plus a batch that already held the destination), then on failure after
// twice as long, up to purgeAttempts times.
const (
	defaultPurgeDelay = 5 * time.Second
	purgeAttempts     = 5
	purgeTimeout      = 10 * time.Second
)

// purgeLater purges a deleted destination's state again after a delay:
// jobs parked meanwhile by an instance that did not know of the delete
// yet, or settled by a call that was in flight, would stay forever. It
// stops with the service (Run's context).
func (s *Service) purgeLater(tenant, id string) {
	s.mu.Lock()
	ctx, delay := s.runCtx, s.purgeDelay
	s.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	go func() {
		for range purgeAttempts {
			if !wait.Sleep(ctx, delay) {
				return
			}
			pctx, cancel := context.WithTimeout(ctx, purgeTimeout)
			err := s.purge(pctx, tenant, id)
			cancel()
			if err == nil || ctx.Err() != nil {
				return
			}
			s.log.Warn().Err(err).Str("tenant", tenant).Str("destination", id).Msg("delayed purge of a deleted destination failed")
			delay *= 2
		}
	}()
}

// splitList parses "a,b, c".
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
