package activation

import (
	"sync"
	"time"
)

// breaker is a destination's circuit breaker: after threshold consecutive
// failures it opens for cooldown; then one probe call is let through
// (half-open); a success closes it, a failure opens it again.
type breaker struct {
	mu        sync.Mutex
	threshold int
	cooldown  time.Duration
	failures  int
	openUntil time.Time
}

// State names for metrics and stats.
const (
	breakerClosed   = "closed"
	breakerOpen     = "open"
	breakerHalfOpen = "half-open"
)

// allowed returns how many calls may be in flight now (0 open, 1
// half-open, max closed).
func (b *breaker) allowed(now time.Time, max int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return max
	}
	if now.Before(b.openUntil) {
		return 0
	}
	return 1
}

func (b *breaker) state(now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.failures < b.threshold:
		return breakerClosed
	case now.Before(b.openUntil):
		return breakerOpen
	default:
		return breakerHalfOpen
	}
}

// record notes a call's result and says whether the breaker just opened.
func (b *breaker) record(ok bool, now time.Time) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.failures = 0
		return false
	}
	b.failures++
	if b.failures >= b.threshold {
		b.openUntil = now.Add(b.cooldown)
		return b.failures == b.threshold
	}
	return false
}
