package loadgen

import (
	"testing"
	"time"
)

func TestWindowsGroupLatenciesByCompletionTime(t *testing.T) {
	start := time.Unix(1000, 0)
	at := []time.Time{start.Add(500 * time.Millisecond), start.Add(2100 * time.Millisecond), start.Add(700 * time.Millisecond)}
	lat := []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 30 * time.Millisecond}
	got := windows(start, time.Second, at, lat)
	if len(got) != 2 {
		t.Fatalf("%d windows, want 2 (the empty one left out): %v", len(got), got)
	}
	if got[0].From != 0 || got[0].N != 2 || got[0].Max != 30*time.Millisecond {
		t.Errorf("first window %+v", got[0])
	}
	if got[1].From != 2*time.Second || got[1].N != 1 || got[1].P99 != 50*time.Millisecond {
		t.Errorf("second window %+v", got[1])
	}
}
