package csvimport

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"strings"
)

// rowReader reads CSV records with their line numbers and keeps a running
// content hash: chain(n) = sha256(chain(n-1) ‖ line ‖ fields of the record),
// chain(0) = sha256(salt ‖ header). Ids derived from the chain are
// deterministic for a given file content without reading the file twice.
type rowReader struct {
	cr    *csv.Reader
	br    *bufio.Reader
	lim   *recordLimiter
	d     hash.Hash
	chain [32]byte
	buf   []byte
	// shift corrects the parser's line count: when it reads to a cut-off
	// end of a quoted field, it counts one more (empty) line.
	shift int
}

// recordLimiter sits under the parser's buffer and lets it read at most up
// to limit, an offset MaxRecordBytes past the start of the record being
// read: beyond, it reports io.EOF (which ends the record, or makes an open
// quoted field a parse error) and trips. So the parser never holds more
// than about MaxRecordBytes, whatever the file.
type recordLimiter struct {
	r       io.Reader
	n       int64 // bytes read from r
	limit   int64
	tripped bool
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	room := l.limit - l.n
	if room <= 0 {
		l.tripped = true
		return 0, io.EOF
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

var bom = []byte{0xEF, 0xBB, 0xBF}

func newRowReader(r io.Reader) *rowReader {
	lim := &recordLimiter{r: r, limit: MaxRecordBytes}
	br := bufio.NewReaderSize(lim, 64<<10)
	if b, err := br.Peek(3); err == nil && b[0] == bom[0] && b[1] == bom[1] && b[2] == bom[2] {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = false
	cr.ReuseRecord = true
	return &rowReader{cr: cr, br: br, lim: lim, d: sha256.New()}
}

// arm lets the parser read MaxRecordBytes past what it consumed, that is
// past the start of the next record.
func (rr *rowReader) arm() {
	rr.lim.limit = rr.lim.n - int64(rr.br.Buffered()) + MaxRecordBytes
	rr.lim.tripped = false
}

// Errors of the header line.
var (
	errNoHeader       = errors.New("the file is empty: the first line must be the header")
	errHeaderTooLarge = fmt.Errorf("the header is longer than %d bytes", MaxRecordBytes)
)

// header reads the first record and seeds the chain.
func (rr *rowReader) header(salt string) ([]string, error) {
	rr.arm()
	rec, err := rr.cr.Read()
	if rr.lim.tripped {
		return nil, errHeaderTooLarge
	}
	if errors.Is(err, io.EOF) {
		return nil, errNoHeader
	}
	if err != nil {
		return nil, err
	}
	h := append([]string(nil), rec...)
	rr.d.Reset()
	rr.d.Write([]byte(salt))
	rr.writeFields(0, h)
	rr.d.Sum(rr.chain[:0])
	return h, nil
}

func (rr *rowReader) writeFields(line int, fields []string) {
	rr.buf = binary.AppendUvarint(rr.buf[:0], uint64(line))
	rr.buf = binary.AppendUvarint(rr.buf, uint64(len(fields)))
	for _, f := range fields {
		rr.buf = binary.AppendUvarint(rr.buf, uint64(len(f)))
		rr.buf = append(rr.buf, f...)
		if len(rr.buf) > 32<<10 {
			rr.d.Write(rr.buf)
			rr.buf = rr.buf[:0]
		}
	}
	rr.d.Write(rr.buf)
}

// record is one data row (or a malformed or oversized one).
type record struct {
	line   int      // line number of the row's first character; the header is line 1
	fields []string // valid until the next call of next; for an oversized row, a copied excerpt
	err    error    // a *csv.ParseError for a malformed row, a *rowTooLargeError
	chain  [32]byte
}

// rowTooLargeError: the row is longer than MaxRecordBytes.
type rowTooLargeError struct{}

func (*rowTooLargeError) Error() string {
	return fmt.Sprintf("the row is longer than %d bytes: it was not imported", MaxRecordBytes)
}

// next reads the next row. It returns io.EOF at the end, a *FileError when
// the file cannot be read further, and another error when the upload itself
// fails.
func (rr *rowReader) next(out *record) error {
	rr.arm()
	rec, err := rr.cr.Read()
	err = rr.shiftLines(err)
	if rr.lim.tripped {
		return rr.oversized(out, rec, err)
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	*out = record{}
	var pe *csv.ParseError
	if err != nil {
		if !errors.As(err, &pe) {
			return err
		}
		if errors.Is(pe.Err, csv.ErrFieldCount) { // not used with FieldsPerRecord=-1
			return err
		}
		out.line = pe.StartLine
		out.err = pe
		rr.advance(out.line, []string{"\x00malformed"})
		out.chain = rr.chain
		return nil
	}
	out.line, _ = rr.cr.FieldPos(0)
	out.line -= rr.shift
	out.fields = rec
	rr.advance(out.line, rec)
	out.chain = rr.chain
	return nil
}

// oversized handles a record cut at MaxRecordBytes. On one line, the row
// fails and reading goes on at the next line. A quoted field open across
// lines cannot be resynchronised (its closing quote is missing, most
// likely): the import stops there.
func (rr *rowReader) oversized(out *record, rec []string, err error) error {
	*out = record{}
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe) && pe.Line > pe.StartLine:
		return &FileError{Line: pe.StartLine, Msg: fmt.Sprintf(
			"a quoted field of the row starting on this line is not closed within %d bytes (line %d): "+
				"check that line for an unbalanced quote; the import stopped there", MaxRecordBytes, pe.Line)}
	case pe != nil:
		out.line = pe.StartLine
		rr.shift++
	case err != nil:
		return err
	default:
		out.line, _ = rr.cr.FieldPos(0)
		out.line -= rr.shift
		head, _ := headFields(rec, maxExcerptBytes)
		for _, f := range head {
			out.fields = append(out.fields, strings.Clone(f))
		}
	}
	out.err = &rowTooLargeError{}
	rr.advance(out.line, []string{"\x00tooLarge"})
	out.chain = rr.chain
	return rr.skipLine()
}

// shiftLines applies shift to the lines of a parse error.
func (rr *rowReader) shiftLines(err error) error {
	var pe *csv.ParseError
	if rr.shift == 0 || !errors.As(err, &pe) {
		return err
	}
	c := *pe
	c.StartLine -= rr.shift
	c.Line -= rr.shift
	return &c
}

// skipLine discards the rest of the current line.
func (rr *rowReader) skipLine() error {
	rr.lim.limit = math.MaxInt64
	for {
		_, err := rr.br.ReadSlice('\n')
		switch {
		case err == nil, errors.Is(err, io.EOF):
			return nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return fmt.Errorf("csvimport: skipping a long row: %w", err)
		}
	}
}

func (rr *rowReader) advance(line int, fields []string) {
	rr.d.Reset()
	rr.d.Write(rr.chain[:])
	rr.writeFields(line, fields)
	rr.d.Sum(rr.chain[:0])
}

// parseMessage renders a csv.ParseError without its line prefix (the report
// has a line column).
func parseMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("malformed CSV at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}
