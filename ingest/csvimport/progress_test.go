package csvimport_test

import (
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/user360/user360/ingest/csvimport"
)

// The job is visible, with its counts, while the upload is still streaming.
func TestStatusWhileUploading(t *testing.T) {
	cfg := csvimport.DefaultConfig()
	cfg.BatchSize = 2
	cfg.FlushInterval = 10 * time.Millisecond
	h := newHarness(t, false, cfg)

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/imports", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+h.key)
	type answer struct {
		code int
		body []byte
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{code: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- answer{resp.StatusCode, b}
	}()
	_ = mw.WriteField("jobId", "live")
	_ = mw.WriteField("size", "1000")
	fw, _ := mw.CreateFormFile("file", "live.csv")
	_, _ = io.WriteString(fw, "id,email\n")
	for i := range 5 {
		_, _ = fmt.Fprintf(fw, "%d,u%d@example.com\n", i, i)
	}
	// Wait until the server shows the first rows while we hold the rest.
	deadline := time.Now().Add(10 * time.Second)
	var st csvimport.Status
	for {
		code, body := h.get("/v1/imports/live")
		if code == 200 {
			_ = json.Unmarshal(body, &st)
			if st.Counts.Total >= 4 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress while uploading: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Status != csvimport.StatusRunning || st.Progress <= 0 || st.Progress >= 1 {
		t.Fatalf("mid-upload status %+v", st)
	}
	for i := 5; i < 10; i++ {
		_, _ = fmt.Fprintf(fw, "%d,u%d@example.com\n", i, i)
	}
	_ = mw.Close()
	_ = pw.Close()
	a := <-done
	if a.code != 202 {
		t.Fatalf("answer %d %s", a.code, a.body)
	}
	if got := decodeStatus(t, a.body); got.Counts.Total != 10 || got.Counts.New != 10 || got.Status != csvimport.StatusCompleted {
		t.Fatalf("final %+v", got)
	}
	if evs := h.events(10); len(evs) != 10 {
		t.Fatalf("%d events", len(evs))
	}
}

// A long upload is not cut by the server's ReadTimeout while it flows.
func TestLongUploadOutlivesReadTimeout(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	mux := http.NewServeMux()
	h.svc.Routes(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "slow.csv")
		_, _ = io.WriteString(fw, "id,email\n")
		for i := range 12 { // ~1.2 s, four times the server's ReadTimeout
			_, _ = fmt.Fprintf(fw, "%d,u%d@example.com\n", i, i)
			time.Sleep(100 * time.Millisecond)
		}
		_ = mw.Close()
		_ = pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/imports", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 || decodeStatus(t, b).Counts.New != 12 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
