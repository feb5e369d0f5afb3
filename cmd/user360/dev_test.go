package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
	kafkago "github.com/segmentio/kafka-go"
)

// devProcess runs `user360 dev` in-process on free ports and returns its
// HTTP base URL and broker address, parsed from what it prints. It stops at
// the end of the test.
func devProcess(t testing.TB, extra ...string) (httpURL, broker string) {
	t.Helper()
	httpURL, broker, stop := startDev(t, extra...)
	t.Cleanup(stop)
	return httpURL, broker
}

// startDev is devProcess with an explicit stop.
func startDev(t testing.TB, extra ...string) (httpURL, broker string, stop func()) {
	t.Helper()
	t.Setenv("USER360_DEV_WRITE_KEY", "wk_e2e")
	t.Setenv("USER360_DEV_API_KEY", "ak_e2e")
	// The embedded Redis, unless a benchmark asks for a real server.
	t.Setenv("USER360_REDIS_URL", os.Getenv("USER360_BENCH_REDIS_URL"))
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	args := append([]string{"--kafka-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-level", "warn"}, extra...)
	go func() { done <- runDev(ctx, args, pw, io.Discard); pw.Close() }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("user360 dev returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("user360 dev did not shut down within 20s")
		}
	}
	httpRe := regexp.MustCompile(`HTTP API\s+(http://\S+)`)
	kafkaRe := regexp.MustCompile(`Kafka broker\s+(\S+)`)
	sc := bufio.NewScanner(pr)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for httpURL == "" || broker == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				cancel()
				t.Fatalf("user360 dev stopped: %v", <-done)
			}
			if m := httpRe.FindStringSubmatch(l); m != nil {
				httpURL = m[1]
			}
			if m := kafkaRe.FindStringSubmatch(l); m != nil {
				broker = m[1]
			}
		case <-timeout:
			cancel()
			t.Fatal("user360 dev did not start within 30s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return httpURL, broker, stop
}

// TestDevAcceptsSegmentSDKAndOutsideClientsReadTheLog is the acceptance
// check of the foundation: a Segment SDK posts to `user360 dev`, and a Kafka
// client that is not ours (segmentio/kafka-go) reads the messages from
// user360.events over TCP.
func TestDevAcceptsSegmentSDKAndOutsideClientsReadTheLog(t *testing.T) {
	httpURL, broker := devProcess(t)
	resp, err := http.Get(httpURL + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()

	client, err := analytics.NewWithConfig("wk_e2e", analytics.Config{Endpoint: httpURL + "/", Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i, ev := range []string{"Chat Started", "Order Completed", "Chat Ended"} {
		id := "e2e-" + string(rune('a'+i))
		want[id] = true
		if err := client.Enqueue(analytics.Track{MessageId: id, UserId: "u-e2e", Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}

	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: []string{broker}, Topic: "user360.events", GroupID: "outside-reader",
		StartOffset: kafkago.FirstOffset, MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(want) > 0 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("outside client read: %v (still missing %v)", err, want)
		}
		var ev map[string]any
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != "demo/u-e2e" {
			t.Errorf("key %q", m.Key)
		}
		tenant := ""
		for _, h := range m.Headers {
			if h.Key == "user360-tenant" {
				tenant = string(h.Value)
			}
		}
		if tenant != "demo" {
			t.Errorf("tenant header %q", tenant)
		}
		delete(want, ev["messageId"].(string))
	}
}

func TestMetricsAndHealth(t *testing.T) {
	httpURL, _ := devProcess(t)
	resp, err := http.Post(httpURL+"/v1/track", "application/json", strings.NewReader(`{"writeKey":"wk_e2e","userId":"1","event":"E"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("track: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(httpURL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/metrics" && !strings.Contains(string(b), `user360_ingest_messages_total{tenant="demo",type="track"} 1`) {
			t.Errorf("metrics lack the accepted message:\n%.2000s", b)
		}
	}
}
