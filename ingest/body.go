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
	ErrTooLarge    = errors.New("request body is larger than the limit")
	ErrBadEncoding = errors.New("unsupported Content-Encoding")
	ErrBadGzip     = errors.New("body is not valid gzip")
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the whole body, gunzipping it when Content-Encoding says
// gzip (whatever the Content-Type: RudderStack labels gzipped JSON as a
// form), and enforces limit on the decoded size. The buffer goes back to the
// pool with putBuf.
func readBody(r *http.Request, limit int) (*bytes.Buffer, error) {
	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
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

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		bufPool.Put(b)
	}
}
