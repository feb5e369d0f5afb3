package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkProfileWithSegmentsAPI: what a bot does before replying — one
// GET of a profile with its segments through the HTTP API of `user360 dev`
// (a real Redis when USER360_BENCH_REDIS_URL names one — use a database of
// its own, e.g. redis://127.0.0.1:6379/8, as the dev tenant is fixed — else
// the embedded one),
// over a keep-alive connection. Reports p50/p99 latency.
func BenchmarkProfileWithSegmentsAPI(b *testing.B) {
	httpURL, _, stop := startDev(b)
	defer stop()
	for i := 0; i < 5; i++ {
		benchCall(b, "POST", httpURL+"/v1/segments", `{"name":"s`+string(rune('a'+i))+`","rule":{"trait":"plan","op":"eq","value":"pro"}}`)
	}
	req, _ := http.NewRequest("POST", httpURL+"/v1/batch", strings.NewReader(`{"batch":[{"type":"identify","userId":"bot-1","traits":{"plan":"pro","email":"b@x.com","firstName":"B","city":"Pune","country":"IN","tags":["a","b"]}},{"type":"track","userId":"bot-1","event":"Chat Started"}]}`))
	req.SetBasicAuth("wk_e2e", "")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		b.Fatalf("batch: %v %v", resp, err)
	}
	// Wait until the profile is in all five segments.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var prof struct {
			Segments []string `json:"segments"`
		}
		_ = json.Unmarshal([]byte(benchCall(b, "GET", httpURL+"/v1/profiles/user_id:bot-1", "")), &prof)
		if len(prof.Segments) == 5 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("segments not ready: %v", prof.Segments)
		}
		time.Sleep(20 * time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, _ := http.NewRequest("GET", httpURL+"/v1/profiles/user_id:bot-1", nil)
		r.Header.Set("Authorization", "Bearer ak_e2e")
		t0 := time.Now()
		resp, err := client.Do(r)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("get: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
}

func benchCall(b *testing.B, method, url, body string) string {
	b.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer ak_e2e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return string(out)
}
