package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/user360/user360/ingest/csvimport"
)

// countingReader counts the bytes of the file sent so far.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// result is the server's answer to the upload.
type result struct {
	status int
	st     *csvimport.Status
	errb   *csvimport.ErrorBody
}

// upload streams the file as multipart: the text fields first, then the
// file, written into a pipe as the HTTP client reads it.
func upload(ctx context.Context, hc *http.Client, o *options, f *os.File, size int64, sent *atomic.Int64) (*result, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			fields := [][2]string{
				{"jobId", o.jobID}, {"mode", o.mode}, {"idColumn", o.idColumn},
				{"size", strconv.FormatInt(size, 10)}, {"fileName", filepath.Base(o.file)},
			}
			for _, t := range o.tags {
				fields = append(fields, [2]string{"tags", t})
			}
			for _, m := range o.maps {
				fields = append(fields, [2]string{"map", m})
			}
			for _, fv := range fields {
				if fv[1] == "" {
					continue
				}
				if err := mw.WriteField(fv[0], fv[1]); err != nil {
					return err
				}
			}
			fw, err := mw.CreateFormFile("file", filepath.Base(o.file))
			if err != nil {
				return err
			}
			if _, err := io.Copy(fw, countingReader{r: f, n: sent}); err != nil {
				return err
			}
			return mw.Close()
		}()
		_ = pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.server+"/v1/imports", pr)
	if err != nil {
		_ = pr.CloseWithError(err)
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+o.apiKey)
	resp, err := hc.Do(req)
	if err != nil {
		_ = pr.CloseWithError(err)
		return nil, fmt.Errorf("upload to %s: %w", o.server, err)
	}
	defer resp.Body.Close()
	_ = pr.Close() // the server answered: stop sending
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	res := &result{status: resp.StatusCode}
	if resp.StatusCode == http.StatusAccepted {
		res.st = &csvimport.Status{}
		if err := json.Unmarshal(body, res.st); err != nil {
			return nil, fmt.Errorf("the server answered %d with an unreadable body: %w", resp.StatusCode, err)
		}
		return res, nil
	}
	res.errb = &csvimport.ErrorBody{}
	if err := json.Unmarshal(body, res.errb); err != nil || res.errb.Error == "" {
		res.errb.Error = strings.TrimSpace(string(body))
		if res.errb.Error == "" {
			res.errb.Error = http.StatusText(resp.StatusCode)
		}
	}
	return res, nil
}

// getStatus polls GET /v1/imports/{id}; nil when not (yet) known.
func getStatus(ctx context.Context, hc *http.Client, o *options) *csvimport.Status {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.server+"/v1/imports/"+url.PathEscape(o.jobID), nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Authorization", "Bearer "+o.apiKey)
	resp, err := hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var st csvimport.Status
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return nil
	}
	return &st
}

// downloadErrors saves the error report.
func downloadErrors(ctx context.Context, hc *http.Client, o *options, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.server+"/v1/imports/"+url.PathEscape(o.jobID)+"/errors", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.apiKey)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET errors: %s", resp.Status)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
