package main

import (
	"net/http"
	"net/http/pprof"
	"os"
)

// startPprof serves the Go profiler on USER360_PPROF_ADDR when it is set
// (for benchmarking; never on by default).
func startPprof() {
	addr := os.Getenv("USER360_PPROF_ADDR")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.ListenAndServe(addr, mux) }()
}
