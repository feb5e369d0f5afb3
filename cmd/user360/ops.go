package main

import (
	"context"
	"net/http"
	"time"

	"github.com/user360/user360/internal/httpx"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/metrics"
)

// opsRoutes registers /healthz (the process is up), /readyz (the broker and
// Redis answer) and /metrics.
func (s *stack) opsRoutes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		checks := map[string]string{"kafka": "ok", "redis": "ok"}
		status := http.StatusOK
		// the reason goes to the log, not to the unauthenticated caller
		// (it names internal addresses)
		if err := kafka.Ping(ctx, s.producer); err != nil {
			checks["kafka"] = "unavailable"
			status = http.StatusServiceUnavailable
			s.cfg.Log.Warn().Err(err).Msg("readyz: the broker does not answer")
		}
		if s.cfg.Redis != nil {
			if err := s.cfg.Redis.Ping(ctx).Err(); err != nil {
				checks["redis"] = "unavailable"
				status = http.StatusServiceUnavailable
				s.cfg.Log.Warn().Err(err).Msg("readyz: Redis does not answer")
			}
		} else {
			checks["redis"] = "not used by these roles"
		}
		httpx.WriteJSON(w, status, checks)
	})
	s.mux.Handle("GET /metrics", metrics.Handler(s.reg))
}
