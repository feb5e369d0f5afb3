package loadgen

import (
	"fmt"
	"time"
)

// Window is the latency of the events whose entries were seen in one
// window of a pipeline run.
type Window struct {
	From time.Duration // window start, from the first send
	Percentiles
}

func (w Window) String() string {
	return fmt.Sprintf("window %6s: n=%d p50=%s p99=%s max=%s", w.From.Round(time.Millisecond), w.N,
		w.P50.Round(100*time.Microsecond), w.P99.Round(100*time.Microsecond), w.Max.Round(time.Millisecond))
}

// windows splits latencies by the window of width their completion time
// at[i] falls in, counted from start. Empty windows are left out.
func windows(start time.Time, width time.Duration, at []time.Time, lat []time.Duration) []Window {
	by := map[int][]time.Duration{}
	last := 0
	for i, t := range at {
		k := int(t.Sub(start) / width)
		by[k] = append(by[k], lat[i])
		last = max(last, k)
	}
	var out []Window
	for k := 0; k <= last; k++ {
		if d := by[k]; len(d) > 0 {
			out = append(out, Window{From: time.Duration(k) * width, Percentiles: percentiles(d)})
		}
	}
	return out
}
