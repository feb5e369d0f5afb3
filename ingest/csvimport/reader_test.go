package csvimport

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

type readRow struct {
	line   int
	fields []string
	bad    bool
}

func readAllRows(t *testing.T, in string) ([]string, []readRow) {
	t.Helper()
	rr := newRowReader(strings.NewReader(in))
	h, err := rr.header("salt")
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var out []readRow
	var rec record
	for {
		err := rr.next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		out = append(out, readRow{line: rec.line, fields: append([]string(nil), rec.fields...), bad: rec.err != nil})
	}
	return h, out
}

func TestReaderTable(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		header []string
		rows   []readRow
	}{
		{"plain LF", "id,name\n1,Ada\n2,Bob\n", []string{"id", "name"},
			[]readRow{{2, []string{"1", "Ada"}, false}, {3, []string{"2", "Bob"}, false}}},
		{"CRLF and no final newline", "id,name\r\n1,Ada\r\n2,Bob", []string{"id", "name"},
			[]readRow{{2, []string{"1", "Ada"}, false}, {3, []string{"2", "Bob"}, false}}},
		{"UTF-8 BOM", "\xEF\xBB\xBFid,name\n1,Ada\n", []string{"id", "name"},
			[]readRow{{2, []string{"1", "Ada"}, false}}},
		{"quoted comma, quote and newline", "id,note\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,x\n", []string{"id", "note"},
			[]readRow{{2, []string{"1", "a, b"}, false}, {3, []string{"2", `say "hi"`}, false},
				{4, []string{"3", "two\nlines"}, false}, {6, []string{"4", "x"}, false}}},
		{"blank lines skipped, line numbers kept", "id\n1\n\n3\n", []string{"id"},
			[]readRow{{2, []string{"1"}, false}, {4, []string{"3"}, false}}},
		{"variable field counts", "a,b\n1\n1,2,3\n", []string{"a", "b"},
			[]readRow{{2, []string{"1"}, false}, {3, []string{"1", "2", "3"}, false}}},
		{"bare quote is malformed, next rows read", "id,name\n1,A\"da\n2,Bob\n", []string{"id", "name"},
			[]readRow{{2, nil, true}, {3, []string{"2", "Bob"}, false}}},
		{"extraneous quote is malformed", "id,name\n1,\"Ada\"x\n2,Bob\n", []string{"id", "name"},
			[]readRow{{2, nil, true}, {3, []string{"2", "Bob"}, false}}},
		{"unicode", "id,name\n1,Zoë 東京\n", []string{"id", "name"},
			[]readRow{{2, []string{"1", "Zoë 東京"}, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, rows := readAllRows(t, c.in)
			if !reflect.DeepEqual(h, c.header) {
				t.Errorf("header %q, want %q", h, c.header)
			}
			for i := range rows {
				if rows[i].bad {
					rows[i].fields = nil
				}
			}
			if !reflect.DeepEqual(rows, c.rows) {
				t.Errorf("rows\n got %+v\nwant %+v", rows, c.rows)
			}
		})
	}
}

func TestReaderEmptyFile(t *testing.T) {
	rr := newRowReader(strings.NewReader(""))
	if _, err := rr.header("s"); !errors.Is(err, errNoHeader) {
		t.Fatalf("empty file: %v", err)
	}
}

func TestChainIsDeterministicAndPositional(t *testing.T) {
	chains := func(in string) [][32]byte {
		rr := newRowReader(strings.NewReader(in))
		if _, err := rr.header("s"); err != nil {
			t.Fatal(err)
		}
		var out [][32]byte
		var rec record
		for rr.next(&rec) == nil {
			out = append(out, rec.chain)
		}
		return out
	}
	a := chains("id\nx\nx\n")
	b := chains("id\r\nx\r\nx\r\n")
	if a[0] != b[0] || a[1] != b[1] {
		t.Fatal("same content with other line endings must give the same chain")
	}
	if a[0] == a[1] {
		t.Fatal("two identical rows must have different chains")
	}
	if c := chains("id\ny\nx\n"); c[1] == a[1] {
		t.Fatal("the chain must depend on the rows before")
	}
}

// repeatReader yields prefix, then line repeated until n bytes were read in
// all; it counts what was read, without holding the file.
type repeatReader struct {
	prefix, line string
	n, read      int
}

func (g *repeatReader) Read(p []byte) (int, error) {
	if g.read >= g.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && g.read < g.n {
		var c int
		if g.read < len(g.prefix) {
			c = copy(p[k:], g.prefix[g.read:])
		} else {
			off := (g.read - len(g.prefix)) % len(g.line)
			c = copy(p[k:], g.line[off:])
		}
		c = min(c, g.n-g.read)
		k += c
		g.read += c
	}
	return k, nil
}

func TestReaderLongRowFailsAndReadingGoesOn(t *testing.T) {
	for name, long := range map[string]string{
		"unquoted": "u2," + strings.Repeat("x", 3<<20),
		"quoted":   "u2,\"" + strings.Repeat("y", 3<<20) + "\",z",
	} {
		t.Run(name, func(t *testing.T) {
			_, rows := readAllRows(t, "id,note\nu1,a\n"+long+"\nu3,\"b\nc\"\nu4,d\"\n")
			if len(rows) != 4 || rows[0].line != 2 || rows[1].line != 3 || !rows[1].bad ||
				rows[2].line != 4 || rows[3].line != 6 || !rows[3].bad {
				t.Fatalf("rows %v", summarize(rows))
			}
			if n := len(strings.Join(rows[1].fields, "")); n > maxExcerptBytes+len(truncatedMark) {
				t.Fatalf("excerpt of %d bytes", n)
			}
		})
	}
}

func summarize(rows []readRow) []string {
	var out []string
	for _, r := range rows {
		s := strings.Join(r.fields, ",")
		out = append(out, fmt.Sprintf("%d:%v:%.20s", r.line, r.bad, s))
	}
	return out
}

// An unbalanced quote stops the import at its line, after reading no more
// than MaxRecordBytes and a buffer, however large the file.
func TestReaderUnclosedQuoteIsBounded(t *testing.T) {
	src := &repeatReader{prefix: "userId,note\nu0,\"oops\n", line: "u1,hello world\n", n: 64 << 20}
	rr := newRowReader(src)
	if _, err := rr.header("s"); err != nil {
		t.Fatal(err)
	}
	var rec record
	err := rr.next(&rec)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 2 || !errors.Is(err, ErrInvalidFile) {
		t.Fatalf("err = %v, want a FileError on line 2", err)
	}
	if src.read > MaxRecordBytes+128<<10 {
		t.Fatalf("read %d bytes of the file", src.read)
	}
}

func TestReaderHeaderTooLarge(t *testing.T) {
	rr := newRowReader(strings.NewReader(strings.Repeat("h,", MaxRecordBytes) + "\n1\n"))
	if _, err := rr.header("s"); !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("err = %v", err)
	}
}
