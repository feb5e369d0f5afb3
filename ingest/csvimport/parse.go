package csvimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/user360/user360/ingest/propschema"
)

// parseLoop reads rows and hands them over in batches of BatchSize rows (or
// fewer after FlushInterval, so that a slow upload still progresses). It
// does the little that must be sequential: CSV syntax, line numbers and
// the content chain.
func (j *job) parseLoop(ctx context.Context, rr *rowReader, send func(*batch) error) error {
	defer close(j.done)
	size := j.s.cfg.BatchSize
	cur := &batch{rows: make([]rawRow, 0, size)}
	var seq int64
	flush := func() error {
		seq++
		cur.seq = seq
		cur.bytesRead = j.in.n.Load()
		if err := send(cur); err != nil {
			return err
		}
		cur = &batch{rows: make([]rawRow, 0, size)}
		return nil
	}
	// Columns skipped in strict mode are reported once, on the header line.
	for _, c := range j.cols {
		if c.Skipped != "" && c.Header != "" && j.t.StrictSchema && !c.ID && c.Skipped != skippedByMapping {
			cur.errLines = append(cur.errLines, j.lw.line(1, propschema.CodeInvalidProperty, c.Header,
				"column "+strconv.Quote(c.Header)+" is "+c.Skipped+"; it was not imported", nil))
		}
	}
	var rec record
	lastLine := 0
	lastFlush := time.Now()
	for {
		err := rr.next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrInvalidFile) {
			j.fileErr = err // after the rows read so far are imported
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("%w after line %d: %w", ErrUpload, lastLine, err)
		}
		r := rawRow{line: rec.line, perr: rec.err, chain: rec.chain}
		if rec.fields != nil {
			// The reader reuses its slice, not the strings.
			r.fields = append(make([]string, 0, len(rec.fields)), rec.fields...)
		}
		cur.rows = append(cur.rows, r)
		cur.lastLine, lastLine = rec.line, rec.line
		if len(cur.rows) >= size || time.Since(lastFlush) >= j.s.cfg.FlushInterval {
			lastFlush = time.Now()
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(cur.rows) > 0 || len(cur.errLines) > 0 || seq == 0 {
		return flush()
	}
	return nil
}
