package wait_test

import (
	"context"
	"testing"
	"time"

	"github.com/user360/user360/internal/wait"
)

// Sleep waits at least d; a done context ends it at once with false.
func TestSleep(t *testing.T) {
	start := time.Now()
	if !wait.Sleep(context.Background(), 5*time.Millisecond) || time.Since(start) < 5*time.Millisecond {
		t.Fatal("did not wait")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if wait.Sleep(ctx, time.Hour) || wait.Sleep(ctx, 0) {
		t.Fatal("a done context must end the wait with false")
	}
	if !wait.Sleep(context.Background(), 0) {
		t.Fatal("no wait with a live context is a whole wait")
	}
}
