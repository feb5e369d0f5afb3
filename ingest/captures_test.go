package ingest_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// capturedRequest is one request recorded from a real SDK
// (testdata/sdk-captures, copied from shared/reference).
type capturedRequest struct {
	file, path, ctype string
	gzip              bool
	body              string
}

// loadCaptures extracts the normal-run requests of the capture files.
func loadCaptures(t *testing.T) []capturedRequest {
	t.Helper()
	files, _ := filepath.Glob("testdata/sdk-captures/*.txt")
	var out []capturedRequest
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur *capturedRequest
		var body []string
		inBody := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "################ 2."):
				cur = nil
			case strings.HasPrefix(line, "POST "):
				cur = &capturedRequest{file: filepath.Base(f), path: strings.Fields(line)[1]}
			case cur != nil && strings.HasPrefix(line, "Content-Type: "):
				cur.ctype = strings.TrimPrefix(line, "Content-Type: ")
			case cur != nil && strings.HasPrefix(line, "-- body:"):
				cur.gzip = strings.Contains(line, "gzip=true")
				inBody, body = true, nil
			case cur != nil && inBody && strings.HasPrefix(line, "-- replied"):
				cur.body = strings.Join(body, "\n")
				out = append(out, *cur)
				inBody, cur = false, nil
			case inBody:
				body = append(body, line)
			}
		}
		fh.Close()
	}
	return out
}

func TestRealSDKCapturesAreAcceptedUnchanged(t *testing.T) {
	h := newHarness(t, nil)
	reqs := loadCaptures(t)
	sdks := map[string]bool{}
	for _, r := range reqs {
		sdks[r.file] = true
	}
	if len(sdks) != 4 || len(reqs) < 4 {
		t.Fatalf("captures not found: %d requests from %v", len(reqs), sdks)
	}
	total := 0
	for _, r := range reqs {
		got := h.do(t, call{path: r.path, body: r.body, basic: writeKey, gzip: r.gzip, ctype: r.ctype})
		if got.status != 200 || got.body["rejected"] != nil {
			t.Fatalf("%s %s: %d %v", r.file, r.path, got.status, got.body)
		}
		total += strings.Count(r.body, `"messageId"`)
	}
	// Segment's Go SDK also puts a messageId on the batch itself.
	total -= strings.Count(strings.Join(func() []string {
		var s []string
		for _, r := range reqs {
			if r.file == "segment-go.txt" {
				s = append(s, r.body)
			}
		}
		return s
	}(), ""), "\n  \"messageId\"")
	recs := h.read(t, h.topics.Events, total)
	for _, rec := range recs {
		decodeEvent(t, rec)
	}
}
