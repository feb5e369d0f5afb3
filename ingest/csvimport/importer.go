package csvimport

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/schemas"
)

// Row error codes of the error report (besides the propschema codes
// invalidDataType, invalidProperty and valueTooLong).
const (
	CodeMalformedRow       = "malformedRow"       // the CSV syntax of the row is broken
	CodeInvalidRow         = "invalidRow"         // the row has more or fewer fields than the header
	CodePropertiesRequired = "propertiesRequired" // no id and no valid property: nothing to import
	CodeInvalidID          = "invalidId"          // the id is too long or not valid UTF-8
	CodeRowTooLarge        = "rowTooLarge"        // the row or its message is over MaxRecordBytes or MaxMessageBytes
)

// countingReader counts the bytes read and calls tick on each read.
type countingReader struct {
	r    io.Reader
	n    atomic.Int64
	tick func()
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if c.tick != nil {
		c.tick()
	}
	return n, err
}

// rawRow is a CSV record as read, before any processing.
type rawRow struct {
	line   int
	fields []string // nil for a malformed row
	perr   error    // the parse error of a malformed row
	chain  [32]byte
}

// Row outcomes, counted in row order by the producer.
const (
	outEmpty uint8 = iota
	outFailed
	outImported
)

// rowOut is what a worker decided about a row.
type rowOut struct {
	kind      uint8
	generated bool
	id        string
}

// batch is a group of rows processed and published together. The parser
// fills rows; one worker fills the rest and closes ready.
type batch struct {
	seq       int64
	rows      []rawRow
	lastLine  int
	bytesRead int64
	errLines  []string // header-level lines (parser), then row lines (worker)

	outs      []rowOut
	dead      []schemas.DeadLetter
	deadCount int
	recs      []*kgo.Record // events in row order, then dead letters
	err       error         // encoding error
	ready     chan struct{} // closed once the worker is done
}

// job is one running import. Fields set before the goroutines start are
// read-only afterwards; st, seen and acked belong to the producer.
type job struct {
	s       *Service
	t       *config.Tenant
	opts    Options
	started time.Time
	cols    []Column
	idIdx   int
	// propHeader maps trait names to column headers (problem fields).
	propHeader map[string]string
	header     []string
	salt       []byte
	ctxMap     map[string]any
	tags       []any // requested tags + import tag
	tmpl       *recordTemplate
	in         *countingReader
	lw         *lineWriter // parser and final report lines

	st          Status   // producer's running state
	seen        *seenSet // producer only
	knownFailed bool     // producer only: Deps.Known failed once (logged)
	acked       atomic.Pointer[Status]
	done        chan struct{} // closed when the parser returns
	fileErr     error         // parser only until done: the file cannot be read further (*FileError)
}

// Import runs an import of file to the end and returns its final status.
// The job is visible (GET /v1/imports/{id}) from the moment it starts. An
// error means the job failed: the status (when not nil) says how far it got.
func (s *Service) Import(ctx context.Context, t *config.Tenant, opts Options, file io.Reader) (*Status, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	now := s.deps.Clock().UTC()
	j := &job{s: s, t: t, opts: opts, started: now, idIdx: -1}
	j.lw = newLineWriter()
	j.st = Status{ID: opts.JobID, Status: StatusRunning, Mode: opts.Mode, Tags: opts.Tags,
		FileName: opts.FileName, Size: opts.Size, CreatedAt: now, UpdatedAt: now}
	if err := s.jobs.create(ctx, t.ID, &j.st); err != nil {
		return nil, err
	}
	acked := j.st
	j.acked.Store(&acked)
	err := j.run(ctx, file)
	final := *j.acked.Load()
	final.UpdatedAt = s.deps.Clock().UTC()
	final.FinishedAt = final.UpdatedAt
	final.BytesRead = j.in.n.Load()
	if err != nil {
		final.Status = StatusFailed
		final.Error = err.Error()
		final.Error += lastLineNote(err, final.LastLine)
	} else {
		final.Status = StatusCompleted
	}
	final.Progress = progress(&final)
	finalLines := j.finalErrLines(err)
	j.countErrLines(&final, len(finalLines))
	// The final write must land even when the request was cancelled.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if uerr := s.jobs.update(wctx, t.ID, finalSeq, &final, finalLines); uerr != nil {
		s.deps.Log.Error().Err(uerr).Str("tenant", t.ID).Str("import", final.ID).Msg("import: cannot record the final state")
		if err == nil {
			err = uerr
		}
	}
	s.m.jobs.WithLabelValues(t.ID, final.Status).Inc()
	if err != nil {
		s.deps.Log.Warn().Err(err).Str("tenant", t.ID).Str("import", final.ID).Msg("import failed")
	}
	return &final, err
}

// lastLineNote tells how far a failed import got.
func lastLineNote(err error, lastLine int64) string {
	switch {
	case lastLine <= 0:
		return ""
	case errors.Is(err, ErrInvalidFile):
		return fmt.Sprintf(" (rows up to line %d were imported)", lastLine)
	}
	return fmt.Sprintf(" (rows up to line %d were imported; importing the same file again with the same options does not apply them twice)", lastLine)
}

// finalSeq orders the final update after every batch (batches use 1..n).
const finalSeq = 1 << 62

// countErrLines mirrors the update script's accounting of report lines.
func (j *job) countErrLines(st *Status, n int) {
	room := int64(j.s.cfg.MaxErrorLines) - st.ErrorLines
	kept := min(int64(n), max(room, 0))
	st.ErrorLines += kept
	st.ErrorsDropped += int64(n) - kept
}

// finalErrLines adds a report line for a job-level failure.
func (j *job) finalErrLines(err error) []string {
	if err == nil {
		return nil
	}
	code := "importFailed"
	field := ""
	var fe *FieldError
	if errors.As(err, &fe) {
		field = fe.Field
	}
	if errors.Is(err, ErrInvalidHeader) {
		code = "invalidHeader"
		return []string{j.lw.line(1, code, field, err.Error(), nil)}
	}
	var fl *FileError
	if errors.As(err, &fl) {
		return []string{j.lw.line(fl.Line, code, "", err.Error(), nil)}
	}
	return []string{j.lw.line(0, code, field, err.Error(), nil)}
}

func (j *job) run(ctx context.Context, file io.Reader) error {
	s := j.s
	j.in = &countingReader{r: file}
	rr := newRowReader(j.in)
	header, err := rr.header(chainSalt(j.t.ID))
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) || errors.Is(err, errNoHeader) || errors.Is(err, errHeaderTooLarge) {
			return fieldErr("file", ErrInvalidHeader, "%s", "invalid header: "+parseMessage(err))
		}
		return fmt.Errorf("%w: %w", ErrUpload, err)
	}
	j.header = header
	cols, err := mapColumns(header, j.opts.IDColumn, j.opts.Map, s.deps.Schema, j.t.ID, j.t.StrictSchema)
	if err != nil {
		return err
	}
	j.cols = cols
	j.propHeader = make(map[string]string, len(cols))
	for _, c := range cols {
		if c.ID {
			j.idIdx = c.Index
		}
		if _, dup := j.propHeader[c.Property]; c.Property != "" && !dup {
			j.propHeader[c.Property] = c.Header
		}
	}
	j.st.Columns = cols
	j.salt = optionsSalt(j.opts.Mode, cols, j.opts.Tags)
	j.ctxMap = map[string]any{"user360": map[string]any{"mode": j.opts.Mode, "importId": j.opts.JobID, "source": "csv"}}
	for _, tg := range j.opts.Tags {
		j.tags = append(j.tags, tg)
	}
	j.tags = append(j.tags, "import:"+j.opts.JobID)
	j.seen = newSeenSet(j.opts.Size / 40)
	if j.tmpl, err = newRecordTemplate(s.deps.Publisher, j.t.ID); err != nil {
		return fmt.Errorf("csvimport: encode: %w", err)
	}
	j.done = make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	// parse → process and encode (Encoders workers) → count and produce,
	// in row order.
	ordered := make(chan *batch, s.cfg.Encoders+1)
	work := make(chan *batch, s.cfg.Encoders+1)
	g.Go(func() error { return j.publishLoop(gctx, ordered) })
	for range s.cfg.Encoders {
		g.Go(func() error { j.workLoop(work); return nil })
	}
	g.Go(func() error { return j.heartbeat(gctx) })
	g.Go(func() error {
		defer close(ordered)
		defer close(work)
		return j.parseLoop(gctx, rr, func(b *batch) error {
			b.ready = make(chan struct{})
			select {
			case ordered <- b:
			case <-gctx.Done():
				return context.Cause(gctx)
			}
			work <- b // as deep as ordered, and workers never block: no deadlock
			return nil
		})
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return j.fileErr // rows before it were imported
}

func (j *job) heartbeat(ctx context.Context) error {
	tk := time.NewTicker(j.s.cfg.StaleAfter / 4)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-j.done:
			return nil
		case <-tk.C:
			_ = j.s.jobs.touch(ctx, j.t.ID, j.opts.JobID, j.s.deps.Clock())
		}
	}
}
