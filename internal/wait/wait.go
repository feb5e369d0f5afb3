package wait

import (
	"context"
	"time"
)

// Sleep waits d, or less if ctx ends first; it reports whether the whole
// wait passed (false: ctx is done).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
