package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// reporter shows the progress of an import: a progress bar on a terminal,
// plain lines otherwise.
type reporter interface {
	update(sent, size, rows int64, elapsed time.Duration)
	finish()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newReporter(w io.Writer, size int64, interval time.Duration) reporter {
	if isTerminal(w) {
		bar := progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
		return &barReporter{bar: bar}
	}
	return &lineReporter{w: w, interval: interval}
}

type barReporter struct{ bar *progressbar.ProgressBar }

func (b *barReporter) update(sent, _ int64, rows int64, elapsed time.Duration) {
	b.bar.Describe(fmt.Sprintf("%d rows (%s rows/s)", rows, rate(rows, elapsed)))
	_ = b.bar.Set64(sent)
}

func (b *barReporter) finish() { _ = b.bar.Finish() }

type lineReporter struct {
	w        io.Writer
	interval time.Duration
	last     time.Time
}

func (l *lineReporter) update(sent, size, rows int64, elapsed time.Duration) {
	now := time.Now()
	if now.Sub(l.last) < l.interval {
		return
	}
	l.last = now
	pct, eta := "", ""
	if size > 0 {
		pct = fmt.Sprintf(" (%.0f%%)", 100*float64(sent)/float64(size))
		if sent > 0 && sent < size {
			left := time.Duration(float64(elapsed) * float64(size-sent) / float64(sent))
			eta = ", ETA " + left.Round(time.Second).String()
		}
	}
	fmt.Fprintf(l.w, "progress: %s of %s sent%s, %d rows, %s rows/s%s\n",
		bytesStr(sent), bytesStr(size), pct, rows, rate(rows, elapsed), eta)
}

func (l *lineReporter) finish() {}

func rate(rows int64, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "0"
	}
	return fmt.Sprintf("%.0f", float64(rows)/elapsed.Seconds())
}

func bytesStr(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
