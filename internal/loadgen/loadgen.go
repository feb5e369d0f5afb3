package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config of one load run.
type Config struct {
	URL        string        // gateway base URL, e.g. http://127.0.0.1:8360
	WriteKey   string        // sent as the Basic user name
	Mode       string        // "batch" (/v1/batch) or "track" (/v1/track)
	Conns      int           // concurrent connections (one worker each)
	Duration   time.Duration // how long to send
	BatchSize  int           // events per batch request (mode batch)
	EventBytes int           // approximate size of one event
	Users      int           // distinct user ids
	Rate       int           // events per second over all connections (0: as fast as the gateway takes them)
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.URL == "" || c.WriteKey == "":
		return errors.New("loadgen: URL and write key are required")
	case c.Mode != "batch" && c.Mode != "track":
		return errors.New("loadgen: mode must be batch or track")
	case c.Conns <= 0 || c.Duration <= 0:
		return errors.New("loadgen: conns and duration must be positive")
	case c.Duration > time.Hour:
		return errors.New("loadgen: duration is capped at one hour")
	case c.Rate < 0:
		return errors.New("loadgen: rate must not be negative")
	}
	return nil
}

// Result of a run.
type Result struct {
	Mode         string
	Conns        int
	Requests     int
	Events       int
	Failed       int
	Statuses     map[int]int
	Elapsed      time.Duration
	RequestsPerS float64
	EventsPerS   float64
	P50, P99     time.Duration
	Max          time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("mode=%s conns=%d requests=%d events=%d failed=%d elapsed=%s req/s=%.0f events/s=%.0f p50=%s p99=%s max=%s statuses=%v",
		r.Mode, r.Conns, r.Requests, r.Events, r.Failed, r.Elapsed.Round(time.Millisecond), r.RequestsPerS, r.EventsPerS,
		r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(time.Millisecond), r.Statuses)
}

// Run sends load until cfg.Duration passed or ctx ended.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.EventBytes <= 0 {
		cfg.EventBytes = 300
	}
	if cfg.Users <= 0 {
		cfg.Users = 100000
	}
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	path := "/v1/batch"
	if cfg.Mode == "track" {
		path = "/v1/track"
	}
	url := strings.TrimRight(cfg.URL, "/") + path
	tr := &http.Transport{MaxIdleConns: cfg.Conns, MaxIdleConnsPerHost: cfg.Conns, MaxConnsPerHost: cfg.Conns, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	type workerResult struct {
		lat      []time.Duration
		events   int
		failed   int
		statuses map[int]int
	}
	results := make([]workerResult, cfg.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	pace := newPacer(start, cfg)
	for w := 0; w < cfg.Conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			res := workerResult{statuses: map[int]int{}}
			gen := newGenerator(w, cfg)
			for pace.await(ctx) {
				body, n := gen.next()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.SetBasicAuth(cfg.WriteKey, "")
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					res.failed++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.lat = append(res.lat, time.Since(t0))
				res.statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusOK {
					res.events += n
				} else {
					res.failed++
				}
			}
			results[w] = res
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	out := Result{Mode: cfg.Mode, Conns: cfg.Conns, Statuses: map[int]int{}, Elapsed: elapsed}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.lat...)
		out.Events += r.events
		out.Failed += r.failed
		for k, v := range r.statuses {
			out.Statuses[k] += v
		}
	}
	out.Requests = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		out.P50 = all[len(all)*50/100]
		out.P99 = all[min(len(all)-1, len(all)*99/100)]
		out.Max = all[len(all)-1]
	}
	out.RequestsPerS = float64(out.Requests) / elapsed.Seconds()
	out.EventsPerS = float64(out.Events) / elapsed.Seconds()
	return out, nil
}

// generator builds request bodies with varying users and message ids.
type generator struct {
	cfg    Config
	worker int
	seq    int
	pad    string
}

func newGenerator(worker int, cfg Config) *generator {
	// A track event with these fields is about 200 bytes; pad to size.
	pad := max(cfg.EventBytes-200, 0)
	return &generator{cfg: cfg, worker: worker, pad: strings.Repeat("x", pad)}
}

func (g *generator) event(b *bytes.Buffer) {
	g.seq++
	user := (g.worker*7919 + g.seq*104729) % g.cfg.Users
	b.WriteString(`{"type":"track","userId":"user-`)
	b.WriteString(strconv.Itoa(user))
	b.WriteString(`","event":"Order Completed","messageId":"w`)
	b.WriteString(strconv.Itoa(g.worker))
	b.WriteByte('-')
	b.WriteString(strconv.Itoa(g.seq))
	b.WriteString(`","timestamp":"2026-11-28T10:00:00.000Z","properties":{"revenue":129.5,"currency":"INR","sku":"SKU-`)
	b.WriteString(strconv.Itoa(g.seq % 1000))
	b.WriteString(`","note":"`)
	b.WriteString(g.pad)
	b.WriteString(`"}}`)
}

func (g *generator) next() ([]byte, int) {
	var b bytes.Buffer
	if g.cfg.Mode == "track" {
		g.event(&b)
		return b.Bytes(), 1
	}
	b.WriteString(`{"batch":[`)
	for i := 0; i < g.cfg.BatchSize; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		g.event(&b)
	}
	b.WriteString(`],"context":{"library":{"name":"user360-load","version":"1"}}}`)
	return b.Bytes(), g.cfg.BatchSize
}
