package loadgen

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/user360/user360/internal/wait"
)

// pacer spaces the requests of all workers evenly for Config.Rate: the
// k-th request may start at start + k × interval. A worker that falls
// behind sends at once, so the rate is kept over the run, not per second.
type pacer struct {
	start    time.Time
	interval time.Duration // 0: no pacing
	n        atomic.Int64
}

func newPacer(start time.Time, cfg Config) *pacer {
	p := &pacer{start: start}
	if cfg.Rate > 0 {
		perRequest := 1
		if cfg.Mode == "batch" {
			perRequest = cfg.BatchSize
		}
		p.interval = time.Duration(float64(time.Second) * float64(perRequest) / float64(cfg.Rate))
	}
	return p
}

// await blocks until the next request's slot and reports whether to send
// it (false once ctx is done).
func (p *pacer) await(ctx context.Context) bool {
	if p.interval <= 0 {
		return ctx.Err() == nil
	}
	at := p.start.Add(time.Duration(p.n.Add(1)-1) * p.interval)
	return wait.Sleep(ctx, time.Until(at))
}
