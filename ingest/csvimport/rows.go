package csvimport

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/schemas"
)

// workLoop processes batches: rows to identify messages, error lines and
// dead letters, then records. Several run at once, one batch each.
func (j *job) workLoop(in <-chan *batch) {
	lw := newLineWriter()
	for b := range in {
		b.outs = make([]rowOut, len(b.rows))
		b.recs = make([]*kgo.Record, 0, len(b.rows))
		for i := range b.rows {
			b.outs[i] = j.row(&b.rows[i], b, lw)
		}
		b.rows = nil
		b.deadCount = len(b.dead)
		for i := range b.dead {
			r, err := j.s.deps.Publisher.DeadLetterRecord(&b.dead[i])
			if err != nil {
				b.err = err
				break
			}
			b.recs = append(b.recs, r)
		}
		b.dead = nil // free the originals early
		close(b.ready)
	}
}

// row turns one record into the record of its identify message, error
// lines and dead letters. It is pure with respect to the job (read-only
// fields), so workers run it concurrently; counting happens in row order
// later.
func (j *job) row(r *rawRow, b *batch, lw *lineWriter) rowOut {
	line := r.line
	msgID := messageID(&r.chain, j.salt)
	if r.perr != nil {
		code, msg := CodeMalformedRow, parseMessage(r.perr)
		var tl *rowTooLargeError
		if errors.As(r.perr, &tl) {
			code, msg = CodeRowTooLarge, tl.Error()
		}
		return j.fail(b, lw, line, code, "", msg, msgID, r.fields)
	}
	f := r.fields
	empty := true
	for _, v := range f {
		if strings.TrimSpace(v) != "" {
			empty = false
			break
		}
	}
	if empty {
		return rowOut{kind: outEmpty}
	}
	if len(f) != len(j.cols) {
		msg := fmt.Sprintf("the row has %d fields, the header has %d", len(f), len(j.cols))
		return j.fail(b, lw, line, CodeInvalidRow, "", msg, msgID, f)
	}
	id := ""
	if j.idIdx >= 0 {
		id = strings.TrimSpace(f[j.idIdx])
		if msg := idProblem(id); msg != "" {
			return j.fail(b, lw, line, CodeInvalidID, j.cols[j.idIdx].Header, msg, msgID, f)
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
	for _, p := range problems {
		j.problem(b, lw, line, p.Code, j.headerOf(p.Field), p.Message, msgID, f)
	}
	generated := false
	if id == "" {
		if len(clean) == 0 {
			msg := "the row has no id and no valid property value: nothing to import"
			return j.fail(b, lw, line, CodePropertiesRequired, "", msg, msgID, f)
		}
		id, generated = generatedID(&r.chain), true
	}
	clean["tags"] = mergeTags(clean["tags"], j.tags)
	rec := j.tmpl.record(j.t.ID, &schemas.Event{
		Type:       schemas.TypeIdentify,
		MessageID:  msgID,
		UserID:     id,
		Traits:     clean,
		Context:    j.ctxMap,
		Timestamp:  j.started,
		ReceivedAt: j.started,
	})
	if n := len(rec.Value); n > MaxMessageBytes {
		msg := tooLargeMessage("the row's message", n, MaxMessageBytes)
		return j.fail(b, lw, line, CodeRowTooLarge, "", msg, msgID, f)
	}
	b.recs = append(b.recs, rec)
	return rowOut{kind: outImported, id: id, generated: generated}
}

// idProblem says why a user id cannot be imported ("" when it can).
func idProblem(id string) string {
	if !utf8.ValidString(id) {
		return "the id is not valid UTF-8"
	}
	if n := utf8.RuneCountInString(id); n > propschema.MaxStringLen {
		return fmt.Sprintf("the id has %d characters, the limit is %d", n, propschema.MaxStringLen)
	}
	return ""
}

// problem records one problem of a row: a report line and a dead letter.
func (j *job) problem(b *batch, lw *lineWriter, line int, code, column, msg, msgID string, fields []string) {
	b.errLines = append(b.errLines, lw.line(line, code, column, msg, fields))
	b.dead = append(b.dead, j.deadLetter(line, column, code+": "+msg, msgID, fields))
}

// fail records the problem that makes a row fail.
func (j *job) fail(b *batch, lw *lineWriter, line int, code, column, msg, msgID string, fields []string) rowOut {
	j.problem(b, lw, line, code, column, msg, msgID, fields)
	return rowOut{kind: outFailed}
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
	if h, ok := j.propHeader[prop]; ok {
		return h
	}
	return prop
}

// lineWriter renders lines of the error report (CSV: line, code, column,
// message, row — the row itself CSV-encoded in one field). Each text is cut
// to maxExcerptBytes, so a report line is bounded whatever the row. One per
// goroutine.
type lineWriter struct {
	buf bytes.Buffer
	w   *csv.Writer
}

func newLineWriter() *lineWriter {
	lw := &lineWriter{}
	lw.w = csv.NewWriter(&lw.buf)
	return lw
}

func (lw *lineWriter) line(line int, code, column, msg string, fields []string) string {
	row := ""
	if fields != nil {
		row = lw.rowExcerpt(fields)
	}
	l := ""
	if line > 0 {
		l = strconv.Itoa(line)
	}
	return lw.encode([]string{l, code, excerpt(column, maxExcerptBytes), excerpt(msg, maxExcerptBytes), row})
}

// rowExcerpt is the row as CSV, cut to maxExcerptBytes.
func (lw *lineWriter) rowExcerpt(fields []string) string {
	head, cut := headFields(fields, maxExcerptBytes)
	row := lw.encode(head)
	if cut && len(row) <= maxExcerptBytes {
		return row + truncatedMark
	}
	return excerpt(row, maxExcerptBytes)
}

func (lw *lineWriter) encode(fields []string) string {
	lw.buf.Reset()
	_ = lw.w.Write(fields)
	lw.w.Flush()
	return strings.TrimRight(lw.buf.String(), "\r\n")
}

// headFields returns the first fields of a row holding at most budget bytes
// (values and separators; the last one possibly cut), and whether anything
// was left out. The strings may share memory with fields.
func headFields(fields []string, budget int) ([]string, bool) {
	out := make([]string, 0, min(len(fields), 64))
	for _, f := range fields {
		if len(f)+1 > budget {
			return append(out, excerpt(f, max(budget-1, 0))), true
		}
		out = append(out, f)
		budget -= len(f) + 1
	}
	return out, false
}

// truncatedKey marks an original cut to maxExcerptBytes in a dead letter.
const truncatedKey = "…truncated"

// deadLetter builds the dead-letter record of a dropped value or row; the
// original is the row as a JSON object keyed by header, cut to about
// maxExcerptBytes (then truncatedKey says so). msgID is the row's
// deterministic message id, so a re-import repeats the same dead letters.
func (j *job) deadLetter(line int, column, reason, msgID string, fields []string) schemas.DeadLetter {
	var orig json.RawMessage
	if fields != nil {
		orig, _ = json.Marshal(j.original(fields))
	}
	idx := line
	return schemas.DeadLetter{
		Tenant:     j.t.ID,
		Stage:      "import",
		Reason:     fmt.Sprintf("line %d: %s", line, excerpt(reason, maxExcerptBytes)),
		Field:      excerpt(column, maxExcerptBytes),
		Index:      &idx,
		MessageID:  msgID,
		Original:   orig,
		ReceivedAt: j.started,
	}
}

// original maps headers to the row's values, keeping at most
// maxExcerptBytes of headers and values.
func (j *job) original(fields []string) map[string]string {
	budget := maxExcerptBytes
	m := make(map[string]string, min(len(fields), 64))
	for i, v := range fields {
		h := "column" + strconv.Itoa(i+1)
		if i < len(j.header) && strings.TrimSpace(j.header[i]) != "" {
			h = strings.TrimSpace(j.header[i])
		}
		if len(h)+len(v) > budget {
			if len(h) < budget {
				m[h] = excerpt(v, budget-len(h))
			}
			m[truncatedKey] = fmt.Sprintf("the row has %d fields; only the first %d bytes are kept", len(fields), maxExcerptBytes)
			break
		}
		m[h] = v
		budget -= len(h) + len(v)
	}
	return m
}
