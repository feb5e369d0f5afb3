package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsEventsAndStatuses(t *testing.T) {
	var events atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Batch []map[string]any `json:"batch"`
		}
		if u, _, _ := r.BasicAuth(); u != "wk" || json.NewDecoder(r.Body).Decode(&b) != nil || len(b.Batch) != 10 {
			w.WriteHeader(400)
			return
		}
		events.Add(int64(len(b.Batch)))
		w.Write([]byte(`{"success":true}`))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, WriteKey: "wk", Mode: "batch", Conns: 2, Duration: 200 * time.Millisecond, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Requests cut off by the deadline may reach the server unanswered.
	if res.Failed != 0 || res.Events == 0 || int64(res.Events) > events.Load() || events.Load()-int64(res.Events) > 2*10 || res.P99 < res.P50 {
		t.Fatalf("%v (server saw %d)", res, events.Load())
	}
}

func TestGeneratedEventsAreAboutTheRequestedSize(t *testing.T) {
	g := newGenerator(0, Config{Mode: "track", EventBytes: 300, Users: 10})
	b, _ := g.next()
	if len(b) < 270 || len(b) > 330 {
		t.Fatalf("event of %d bytes: %s", len(b), b)
	}
	if !json.Valid(b) {
		t.Fatal("invalid JSON")
	}
}
