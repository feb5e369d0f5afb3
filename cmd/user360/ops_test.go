package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/metrics"
	"github.com/user360/user360/internal/testenv"
)

// TestReadyzHidesTheReason: with Redis gone, /readyz answers 503 naming
// the dependency, not the error (which names internal addresses: it goes
// to the log).
func TestReadyzHidesTheReason(t *testing.T) {
	k, _ := testenv.Kafka(t)
	mr := miniredis.RunT(t)
	addr := mr.Addr()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	s := &stack{cfg: stackConfig{Redis: rdb, Log: zerolog.Nop()}, mux: http.NewServeMux(), reg: metrics.NewRegistry(),
		producer: testenv.Client(t, k.Addrs())}
	s.opsRoutes()
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("both up: %d %s", code, body)
	}
	mr.Close()
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"redis":"unavailable"`) || strings.Contains(body, addr) {
		t.Fatalf("Redis down: %d %s", code, body)
	}
}
