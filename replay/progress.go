package replay

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress reports records read out of a total: a bar with rate and ETA on
// a terminal, plain lines every interval otherwise.
type progress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar
	total    int64
	done     int64
	start    time.Time
	last     time.Time
	every    time.Duration
	wallNow  func() time.Time
	finished bool
	printed  int64 // done at the last plain line (-1: none yet)
}

func newProgress(w io.Writer, terminal bool, total int64, every time.Duration) *progress {
	p := &progress{w: w, total: total, every: every, wallNow: time.Now, printed: -1}
	p.start = p.wallNow()
	p.last = p.start
	if w != nil && terminal {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("replay"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rec"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	return p
}

// add records n more records read.
func (p *progress) add(n int) {
	p.done += int64(n)
	if p.w == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Add(n)
		return
	}
	if now := p.wallNow(); now.Sub(p.last) >= p.every {
		p.last = now
		p.line(now)
	}
}

// line writes one plain progress line.
func (p *progress) line(now time.Time) {
	p.printed = p.done
	el := now.Sub(p.start)
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el.Seconds()
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.done) / float64(p.total)
	}
	eta := "unknown"
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
		if p.done >= p.total {
			eta = "0s"
		}
	}
	fmt.Fprintf(p.w, "replay: %d/%d records (%.1f%%), %.0f rec/s, elapsed %s, ETA %s\n",
		p.done, p.total, pct, rate, el.Round(time.Millisecond), eta)
}

// finish writes the final state.
func (p *progress) finish() {
	if p.w == nil || p.finished {
		return
	}
	p.finished = true
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
		return
	}
	if p.printed != p.done {
		p.line(p.wallNow())
	}
}
