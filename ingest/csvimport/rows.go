package csvimport

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
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
		b.events = make([]schemas.Event, 0, len(b.rows))
		for i := range b.rows {
			b.outs[i] = j.row(&b.rows[i], b, lw)
		}
		b.rows = nil
		b.deadCount = len(b.dead)
		b.recs = make([]*kgo.Record, 0, len(b.events)+len(b.dead))
		for i := range b.events {
			b.recs = append(b.recs, j.tmpl.record(j.t.ID, &b.events[i]))
		}
		for i := range b.dead {
			r, err := j.s.deps.Publisher.DeadLetterRecord(&b.dead[i])
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

// row turns one record into an identify message, error lines and dead
// letters. It is pure with respect to the job (read-only fields), so
// workers run it concurrently; counting happens in row order later.
func (j *job) row(r *rawRow, b *batch, lw *lineWriter) rowOut {
	line := r.line
	msgID := messageID(&r.chain, j.salt)
	if r.perr != nil {
		msg := parseMessage(r.perr)
		b.errLines = append(b.errLines, lw.line(line, CodeMalformedRow, "", msg, nil))
		b.dead = append(b.dead, j.deadLetter(line, "", CodeMalformedRow+": "+msg, msgID, nil))
		return rowOut{kind: outFailed}
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
		b.errLines = append(b.errLines, lw.line(line, CodeInvalidRow, "", msg, f))
		b.dead = append(b.dead, j.deadLetter(line, "", CodeInvalidRow+": "+msg, msgID, f))
		return rowOut{kind: outFailed}
	}
	id := ""
	if j.idIdx >= 0 {
		id = strings.TrimSpace(f[j.idIdx])
		if n := utf8.RuneCountInString(id); n > propschema.MaxStringLen {
			msg := fmt.Sprintf("the id has %d characters, the limit is %d", n, propschema.MaxStringLen)
			h := j.cols[j.idIdx].Header
			b.errLines = append(b.errLines, lw.line(line, CodeInvalidID, h, msg, f))
			b.dead = append(b.dead, j.deadLetter(line, h, CodeInvalidID+": "+msg, msgID, f))
			return rowOut{kind: outFailed}
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
		h := j.headerOf(p.Field)
		b.errLines = append(b.errLines, lw.line(line, p.Code, h, p.Message, f))
		b.dead = append(b.dead, j.deadLetter(line, h, p.Code+": "+p.Message, msgID, f))
	}
	generated := false
	if id == "" {
		if len(clean) == 0 {
			msg := "the row has no id and no valid property value: nothing to import"
			b.errLines = append(b.errLines, lw.line(line, CodePropertiesRequired, "", msg, f))
			b.dead = append(b.dead, j.deadLetter(line, "", CodePropertiesRequired+": "+msg, msgID, f))
			return rowOut{kind: outFailed}
		}
		id, generated = generatedID(&r.chain), true
	}
	clean["tags"] = mergeTags(clean["tags"], j.tags)
	b.events = append(b.events, schemas.Event{
		Type:       schemas.TypeIdentify,
		MessageID:  msgID,
		UserID:     id,
		Traits:     clean,
		Context:    j.ctxMap,
		Timestamp:  j.started,
		ReceivedAt: j.started,
	})
	return rowOut{kind: outImported, id: id, generated: generated}
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

// lineWriter renders lines of the error report (CSV: line, code, column,
// message, row — the row itself CSV-encoded in one field). One per
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
		lw.buf.Reset()
		_ = lw.w.Write(fields)
		lw.w.Flush()
		row = strings.TrimRight(lw.buf.String(), "\r\n")
	}
	lw.buf.Reset()
	l := ""
	if line > 0 {
		l = strconv.Itoa(line)
	}
	_ = lw.w.Write([]string{l, code, column, msg, row})
	lw.w.Flush()
	return strings.TrimRight(lw.buf.String(), "\r\n")
}

// deadLetter builds the dead-letter record of a dropped value or row; the
// original is the row as a JSON object keyed by header. msgID is the row's
// deterministic message id, so a re-import repeats the same dead letters.
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
