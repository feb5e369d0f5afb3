package loadgen

import (
	"context"
	"testing"
	"time"
)

// The k-th request waits for its slot, start + k × interval (a batch
// counts BatchSize events); without a rate nothing waits; a done context
// ends the wait.
func TestPacerSpacesRequests(t *testing.T) {
	start := time.Now()
	p := newPacer(start, Config{Mode: "batch", BatchSize: 10, Rate: 5000}) // 2 ms a request
	if p.interval != 2*time.Millisecond {
		t.Fatalf("interval %v", p.interval)
	}
	for k := range 20 {
		if !p.await(context.Background()) {
			t.Fatal("wait refused")
		}
		if el := time.Since(start); el < time.Duration(k)*p.interval {
			t.Fatalf("request %d sent %v after start, before its slot %v", k, el, time.Duration(k)*p.interval)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := newPacer(time.Now(), Config{Mode: "track", Rate: 1}) // one a second
	slow.await(ctx)                                              // slot 0: now
	if slow.await(ctx) {
		t.Fatal("a done context should end the wait")
	}
	if free := newPacer(time.Now(), Config{Mode: "batch", BatchSize: 10}); free.interval != 0 || !free.await(context.Background()) {
		t.Fatal("no rate: no pacing")
	}
}
