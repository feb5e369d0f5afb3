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
)

// rowReader reads CSV records with their line numbers and keeps a running
// content hash: chain(n) = sha256(chain(n-1) ‖ line ‖ fields of the record),
// chain(0) = sha256(salt ‖ header). Ids derived from the chain are
// deterministic for a given file content without reading the file twice.
type rowReader struct {
	cr    *csv.Reader
	d     hash.Hash
	chain [32]byte
	buf   []byte
}

var bom = []byte{0xEF, 0xBB, 0xBF}

func newRowReader(r io.Reader) *rowReader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && b[0] == bom[0] && b[1] == bom[1] && b[2] == bom[2] {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = false
	cr.ReuseRecord = true
	return &rowReader{cr: cr, d: sha256.New()}
}

// errNoHeader: the file is empty.
var errNoHeader = errors.New("the file is empty: the first line must be the header")

// header reads the first record and seeds the chain.
func (rr *rowReader) header(salt string) ([]string, error) {
	rec, err := rr.cr.Read()
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

// record is one data row (or a malformed one).
type record struct {
	line   int      // line number of the row's first character; the header is line 1
	fields []string // valid until the next call of next
	err    error    // a *csv.ParseError for a malformed row
	chain  [32]byte
}

// next reads the next row. It returns io.EOF at the end, and an error other
// than a parse error when the upload itself fails.
func (rr *rowReader) next(out *record) error {
	rec, err := rr.cr.Read()
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
	out.fields = rec
	rr.advance(out.line, rec)
	out.chain = rr.chain
	return nil
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
