package replay

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressLines: without a terminal, one line per interval with the
// count, percentage, rate and ETA, and a final line.
func TestProgressLines(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false, 1000, 5*time.Second)
	wall := p.start
	p.wallNow = func() time.Time { return wall }
	wall = wall.Add(time.Second)
	p.add(100) // before the interval: quiet
	wall = wall.Add(4 * time.Second)
	p.add(150) // 250 in 5s: 50 rec/s, 750 left: 15s
	wall = wall.Add(5 * time.Second)
	p.add(750)
	p.finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"replay: 250/1000 records (25.0%), 50 rec/s, elapsed 5s, ETA 15s",
		"replay: 1000/1000 records (100.0%), 100 rec/s, elapsed 10s, ETA 0s",
	}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("line %d: %q, want %q", i, lines[i], want[i])
		}
	}
}

// TestProgressFinalLine: finish writes the final state when the last line
// did not show it.
func TestProgressFinalLine(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false, 10, time.Hour)
	p.add(10)
	p.finish()
	p.finish()
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.Contains(out.String(), "10/10 records (100.0%)") {
		t.Fatalf("output %q", out.String())
	}
}

// TestProgressBar: on a terminal, a bar with the rate and ETA.
func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, true, 500, time.Second)
	p.add(200)
	time.Sleep(250 * time.Millisecond) // the bar renders at most every 200ms
	p.add(300)
	p.finish()
	s := out.String()
	for _, want := range []string{"replay", "100%", "500/500", "rec/s"} {
		if !strings.Contains(s, want) {
			t.Fatalf("bar output lacks %q: %q", want, s)
		}
	}
}

// TestProgressSilent: no writer, no output and no panic.
func TestProgressSilent(t *testing.T) {
	p := newProgress(nil, true, 10, time.Second)
	p.add(10)
	p.finish()
}
