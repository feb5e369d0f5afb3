package csvimport

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/schemas"
)

// Row error codes of the error report (besides the propschema codes
// invalidDataType, invalidProperty and valueTooLong).
const (
	CodeMalformedRow       = "malformedRow"       // the CSV syntax of the row is broken
	CodeInvalidRow         = "invalidRow"         // the row has more or fewer fields than the header
	CodePropertiesRequired = "propertiesRequired" // no id and no valid property: nothing to import
	CodeInvalidID          = "invalidId"          // the id is too long
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

// batch is a group of rows published together.
type batch struct {
	seq      int64
	events   []schemas.Event
	dead     []schemas.DeadLetter
	errLines []string
	status   Status // counts including this batch

	deadCount int
	recs      []*kgo.Record
	err       error         // encoding error
	ready     chan struct{} // closed once recs (or err) is set
}

// job is one running import.
type job struct {
	s       *Service
	t       *config.Tenant
	opts    Options
	started time.Time
	st      Status // parser's view
	cols    []Column
	idIdx   int
	header  []string
	salt    []byte
	ctxMap  map[string]any
	tags    []any // requested tags + import tag
	seen    *seenSet
	in      *countingReader

	errBuf bytes.Buffer
	errW   *csv.Writer

	acked atomic.Pointer[Status] // last state the log acknowledged
	done  chan struct{}          // closed when the parser returns
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
	j.errW = csv.NewWriter(&j.errBuf)
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
		if final.LastLine > 0 {
			final.Error += fmt.Sprintf(" (rows up to line %d were imported; importing the same file again does not duplicate them)", final.LastLine)
		}
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
		return []string{j.errLine(1, code, field, err.Error(), nil)}
	}
	return []string{j.errLine(0, code, field, err.Error(), nil)}
}

func (j *job) run(ctx context.Context, file io.Reader) error {
	s := j.s
	j.in = &countingReader{r: file}
	rr := newRowReader(j.in)
	header, err := rr.header(chainSalt(j.t.ID))
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) || errors.Is(err, errNoHeader) {
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
	for _, c := range cols {
		if c.ID {
			j.idIdx = c.Index
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
	j.done = make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	// parse → encode (Encoders goroutines) → produce, in row order.
	ordered := make(chan *batch, s.cfg.Encoders+1)
	toEncode := make(chan *batch, s.cfg.Encoders+1)
	g.Go(func() error { return j.publishLoop(gctx, ordered) })
	for range s.cfg.Encoders {
		g.Go(func() error { j.encodeLoop(toEncode); return nil })
	}
	g.Go(func() error { return j.heartbeat(gctx) })
	g.Go(func() error {
		defer close(ordered)
		defer close(toEncode)
		return j.parseLoop(gctx, rr, func(b *batch) error {
			b.ready = make(chan struct{})
			select {
			case ordered <- b:
			case <-gctx.Done():
				return context.Cause(gctx)
			}
			toEncode <- b // buffered as deep as ordered: never blocks for long
			return nil
		})
	})
	return g.Wait()
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

func (j *job) parseLoop(ctx context.Context, rr *rowReader, send func(*batch) error) (err error) {
	defer close(j.done)
	size := j.s.cfg.BatchSize
	cur := &batch{events: make([]schemas.Event, 0, size)}
	var seq int64
	flush := func() error {
		seq++
		cur.seq = seq
		j.countErrLines(&j.st, len(cur.errLines))
		j.st.BytesRead = j.in.n.Load()
		j.st.UpdatedAt = j.s.deps.Clock().UTC()
		cur.status = j.st
		cur.deadCount = len(cur.dead)
		if err := send(cur); err != nil {
			return err
		}
		cur = &batch{events: make([]schemas.Event, 0, size)}
		return nil
	}
	// Columns skipped in strict mode are reported once, on the header line.
	for _, c := range j.cols {
		if c.Skipped != "" && c.Header != "" && j.t.StrictSchema && c.Property == "" && !c.ID && c.Skipped != "skipped by the mapping" {
			cur.errLines = append(cur.errLines, j.errLine(1, propschema.CodeInvalidProperty, c.Header, "column "+strconv.Quote(c.Header)+" is "+c.Skipped+"; it was not imported", nil))
		}
	}
	var rec record
	rows := 0
	lastFlush := time.Now()
	for {
		err := rr.next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("%w at line %d: %w", ErrUpload, j.st.LastLine, err)
		}
		j.row(&rec, cur)
		j.st.LastLine = int64(rec.line)
		rows++
		if rows >= size || len(cur.errLines) >= size || (rows > 0 && time.Since(lastFlush) >= j.s.cfg.FlushInterval) {
			lastFlush = time.Now()
			if err := flush(); err != nil {
				return err
			}
			rows = 0
		}
	}
	if rows > 0 || len(cur.errLines) > 0 || seq == 0 {
		return flush()
	}
	return nil
}

// row turns one record into an identify message, error lines and dead
// letters, and counts it.
func (j *job) row(rec *record, b *batch) {
	st := &j.st
	st.Counts.Total++
	line := rec.line
	if rec.err != nil {
		st.Counts.Failed++
		msg := parseMessage(rec.err)
		b.errLines = append(b.errLines, j.errLine(line, CodeMalformedRow, "", msg, nil))
		b.dead = append(b.dead, j.deadLetter(line, "", CodeMalformedRow+": "+msg, "", nil))
		return
	}
	f := rec.fields
	empty := true
	for _, v := range f {
		if strings.TrimSpace(v) != "" {
			empty = false
			break
		}
	}
	if empty {
		st.Counts.Empty++
		return
	}
	if len(f) != len(j.cols) {
		st.Counts.Failed++
		msg := fmt.Sprintf("the row has %d fields, the header has %d", len(f), len(j.cols))
		b.errLines = append(b.errLines, j.errLine(line, CodeInvalidRow, "", msg, f))
		b.dead = append(b.dead, j.deadLetter(line, "", CodeInvalidRow+": "+msg, "", f))
		return
	}
	id := ""
	if j.idIdx >= 0 {
		id = strings.TrimSpace(f[j.idIdx])
		if n := utf8.RuneCountInString(id); n > propschema.MaxStringLen {
			st.Counts.Failed++
			msg := fmt.Sprintf("the id has %d characters, the limit is %d", n, propschema.MaxStringLen)
			h := j.cols[j.idIdx].Header
			b.errLines = append(b.errLines, j.errLine(line, CodeInvalidID, h, msg, f))
			b.dead = append(b.dead, j.deadLetter(line, h, CodeInvalidID+": "+msg, "", f))
			return
		}
	}
	traits := make(map[string]any, len(j.cols))
	for i := range j.cols {
		c := &j.cols[i]
		if c.Property == "" {
			continue
		}
		if v := strings.TrimSpace(f[c.Index]); v != "" {
			traits[c.Property] = v
		}
	}
	clean, problems := j.s.deps.Schema.Apply(j.t, traits, true)
	msgID := messageID(&rec.chain, j.salt)
	for _, p := range problems {
		h := j.headerOf(p.Field)
		b.errLines = append(b.errLines, j.errLine(line, p.Code, h, p.Message, f))
		b.dead = append(b.dead, j.deadLetter(line, h, p.Code+": "+p.Message, msgID, f))
	}
	generated := false
	if id == "" {
		if len(clean) == 0 {
			st.Counts.Failed++
			msg := "the row has no id and no valid property value: nothing to import"
			b.errLines = append(b.errLines, j.errLine(line, CodePropertiesRequired, "", msg, f))
			b.dead = append(b.dead, j.deadLetter(line, "", CodePropertiesRequired+": "+msg, msgID, f))
			return
		}
		id, generated = generatedID(&rec.chain), true
	}
	clean["tags"] = mergeTags(clean["tags"], j.tags)
	if j.seen.add(id) && !generated {
		st.Counts.Updated++
	} else {
		st.Counts.New++
	}
	b.events = append(b.events, schemas.Event{
		Type:       schemas.TypeIdentify,
		MessageID:  msgID,
		UserID:     id,
		Traits:     clean,
		Context:    j.ctxMap,
		Timestamp:  j.started,
		ReceivedAt: j.started,
	})
}

// mergeTags appends the import's tags to the row's own (a list value).
func mergeTags(row any, tags []any) []any {
	own, _ := row.([]any)
	if len(own) == 0 {
		return tags
	}
	out := make([]any, 0, len(own)+len(tags))
	seen := make(map[any]bool, len(own)+len(tags))
	for _, l := range [][]any{own, tags} {
		for _, t := range l {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// headerOf finds the column header of a trait name (problem field).
func (j *job) headerOf(prop string) string {
	for _, c := range j.cols {
		if c.Property == prop {
			return c.Header
		}
	}
	return prop
}

// errLine renders one line of the error report (CSV: line, code, column,
// message, row — the row itself CSV-encoded in one field).
func (j *job) errLine(line int, code, column, msg string, fields []string) string {
	row := ""
	if fields != nil {
		j.errBuf.Reset()
		_ = j.errW.Write(fields)
		j.errW.Flush()
		row = strings.TrimRight(j.errBuf.String(), "\r\n")
	}
	j.errBuf.Reset()
	l := ""
	if line > 0 {
		l = strconv.Itoa(line)
	}
	_ = j.errW.Write([]string{l, code, column, msg, row})
	j.errW.Flush()
	return strings.TrimRight(j.errBuf.String(), "\r\n")
}

// deadLetter builds the dead-letter record of a dropped value or row; the
// original is the row as a JSON object keyed by header.
func (j *job) deadLetter(line int, column, reason, msgID string, fields []string) schemas.DeadLetter {
	var orig json.RawMessage
	if fields != nil {
		m := make(map[string]string, len(fields))
		for i, v := range fields {
			h := "column" + strconv.Itoa(i+1)
			if i < len(j.header) && strings.TrimSpace(j.header[i]) != "" {
				h = strings.TrimSpace(j.header[i])
			}
			m[h] = v
		}
		orig, _ = json.Marshal(m)
	}
	if msgID == "" {
		msgID = "imp_" + j.opts.JobID + "_" + strconv.Itoa(line)
	}
	idx := line
	return schemas.DeadLetter{
		Tenant:     j.t.ID,
		Stage:      "import",
		Reason:     fmt.Sprintf("line %d: %s", line, reason),
		Field:      column,
		Index:      &idx,
		MessageID:  msgID,
		Original:   orig,
		ReceivedAt: j.started,
	}
}

// encodeLoop turns batches into records.
func (j *job) encodeLoop(in <-chan *batch) {
	p := j.s.deps.Publisher
	for b := range in {
		b.recs = make([]*kgo.Record, 0, len(b.events)+len(b.dead))
		for i := range b.events {
			r, err := p.EventRecord(j.t.ID, &b.events[i])
			if err != nil {
				b.err = err
				break
			}
			b.recs = append(b.recs, r)
		}
		for i := range b.dead {
			if b.err != nil {
				break
			}
			r, err := p.DeadLetterRecord(&b.dead[i])
			if err != nil {
				b.err = err
				break
			}
			b.recs = append(b.recs, r)
		}
		b.events, b.dead = nil, nil // free the maps early
		close(b.ready)
	}
}

// publishLoop produces batches in row order, then records the acknowledged
// state in Redis.
func (j *job) publishLoop(ctx context.Context, ch <-chan *batch) error {
	s := j.s
	var prev Counts
	for b := range ch {
		select {
		case <-b.ready:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if b.err != nil {
			return fmt.Errorf("csvimport: encode: %w", b.err)
		}
		start := time.Now()
		if err := j.publish(ctx, b.recs); err != nil {
			return err
		}
		b.recs = nil
		s.m.batches.WithLabelValues(j.t.ID).Observe(time.Since(start).Seconds())
		if err := j.retry(ctx, func() error { return s.jobs.update(ctx, j.t.ID, b.seq, &b.status, b.errLines) }); err != nil {
			return err
		}
		st := b.status
		j.acked.Store(&st)
		c := b.status.Counts
		s.m.rows.WithLabelValues(j.t.ID, "new").Add(float64(c.New - prev.New))
		s.m.rows.WithLabelValues(j.t.ID, "updated").Add(float64(c.Updated - prev.Updated))
		s.m.rows.WithLabelValues(j.t.ID, "failed").Add(float64(c.Failed - prev.Failed))
		s.m.rows.WithLabelValues(j.t.ID, "empty").Add(float64(c.Empty - prev.Empty))
		if b.deadCount > 0 {
			s.m.dead.WithLabelValues(j.t.ID).Add(float64(b.deadCount))
		}
		prev = c
	}
	return nil
}

func (j *job) publish(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	err := j.retry(ctx, func() error { return j.s.deps.Publisher.Produce(ctx, recs...) })
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// retry runs fn up to 1+PublishRetries times with a doubling backoff,
// stopping when ctx is done.
func (j *job) retry(ctx context.Context, fn func() error) error {
	wait := 200 * time.Millisecond
	var err error
	for attempt := 0; ; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		if attempt >= j.s.cfg.PublishRetries || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}
