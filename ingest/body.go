package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Body errors.
var (
	ErrTooLarge     = errors.New("request body is larger than the limit")
	ErrWireTooLarge = errors.New("request body as sent (compressed) is larger than the limit")
	ErrBadEncoding  = errors.New("unsupported Content-Encoding")
	ErrBadGzip      = errors.New("body is not valid gzip")
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the whole body, gunzipping it when Content-Encoding says
// gzip (whatever the Content-Type: RudderStack labels gzipped JSON as a
// form), and enforces limit on the decoded size and wireLimit on the size as
// sent: a body of empty gzip members decodes to nothing, however much of it
// is read. The buffer goes back to the pool with putBuf.
func readBody(w http.ResponseWriter, r *http.Request, limit, wireLimit int) (*bytes.Buffer, error) {
	body := http.MaxBytesReader(w, r.Body, int64(wireLimit))
	var src io.Reader = body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			if wireErr := wireTooLarge(err); wireErr != nil {
				return nil, wireErr
			}
			return nil, fmt.Errorf("%w: %w", ErrBadGzip, err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fmt.Errorf("%w %q (gzip is supported)", ErrBadEncoding, enc)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(src, int64(limit)+1))
	if err != nil {
		putBuf(buf)
		if wireErr := wireTooLarge(err); wireErr != nil {
			return nil, wireErr
		}
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %w", ErrBadGzip, err)
		}
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if n > int64(limit) {
		putBuf(buf)
		return nil, ErrTooLarge
	}
	return buf, nil
}

// wireTooLarge returns ErrWireTooLarge when err is the MaxBytesReader's,
// else nil.
func wireTooLarge(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fmt.Errorf("%w (%d bytes)", ErrWireTooLarge, mb.Limit)
	}
	return nil
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		bufPool.Put(b)
	}
}
