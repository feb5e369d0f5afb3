package segmenter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

const apiKey = "test-api-key"

var msgSeq atomic.Int64

// clock is an injected, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// sink is an Emitter that keeps what it was given; fail makes it refuse.
type sink struct {
	mu      sync.Mutex
	changes []schemas.SegmentChange
	fail    error
	// failAfter: keep the changes, then report failure (a crash after the
	// broker acknowledged but before the outbox was cleared).
	failAfter bool
	// discard counts instead of keeping (benchmarks).
	discard bool
	count   int
}

func (s *sink) Emit(_ context.Context, cs []schemas.SegmentChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil && !s.failAfter {
		return s.fail
	}
	s.count += len(cs)
	if !s.discard {
		s.changes = append(s.changes, cs...)
	}
	return s.fail
}

func (s *sink) all() []schemas.SegmentChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]schemas.SegmentChange(nil), s.changes...)
}

func (s *sink) setFail(err error, after bool) {
	s.mu.Lock()
	s.fail, s.failAfter = err, after
	s.mu.Unlock()
}

// source is an in-memory ProfileSource (the identity store's interface).
type source struct {
	mu       sync.Mutex
	profiles map[string]schemas.Profile
	events   map[string]schemas.ProfileEvents
	reads    map[string]int // ProfileEvents calls by profile
	delay    time.Duration
}

func newSource() *source {
	return &source{profiles: map[string]schemas.Profile{}, events: map[string]schemas.ProfileEvents{}, reads: map[string]int{}}
}

func (s *source) readsOf(pid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[pid]
}

func (s *source) put(p schemas.Profile) {
	s.mu.Lock()
	s.profiles[p.ID] = p
	s.mu.Unlock()
}

func (s *source) addEvent(pid string, e schemas.EventSummary) {
	s.mu.Lock()
	ev := s.events[pid]
	ev.Recent = append([]schemas.EventSummary{e}, ev.Recent...)
	s.events[pid] = ev
	s.mu.Unlock()
}

func (s *source) ScanProfiles(_ context.Context, tenant, cursor string, limit int) ([]schemas.Profile, string, error) {
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.profiles))
	for id := range s.profiles {
		if id > cursor {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	out := make([]schemas.Profile, len(ids))
	for i, id := range ids {
		out[i] = s.profiles[id]
	}
	return out, next, nil
}

func (s *source) ProfileEvents(_ context.Context, tenant, pid string) (schemas.ProfileEvents, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[pid]++
	return s.events[pid], nil
}

type harness struct {
	t       testing.TB
	svc     *segmenter.Service
	sink    *sink
	src     *source
	clock   *clock
	tenant  string
	rdb     redis.UniversalClient
	defs    *defs.Store
	mux     *http.ServeMux
	offset  int64
	brokers []string
	topics  schemas.Topics
	ns      string
	tenants *config.Tenants
}

type opts struct {
	redis    func(testing.TB) redis.UniversalClient
	timezone string
	noSource bool
	cfg      func(*segmenter.Config)
	defs     *defs.Store // another definitions store (another instance)
	kafkaOut bool        // publish to the segment-changes topic
	metrics  *prometheus.Registry
}

var t0 = time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC)

func startDefs(t testing.TB, brokers []string, topic string) *defs.Store {
	t.Helper()
	return testenv.Defs(t, brokers, topic)
}

func newHarness(t testing.TB, o opts) *harness {
	t.Helper()
	if o.redis == nil {
		o.redis = testenv.Redis
	}
	k, topics := testenv.Kafka(t)
	h := &harness{t: t, sink: &sink{}, src: newSource(), clock: &clock{t: t0}, tenant: testenv.Tenant(t), rdb: o.redis(t), brokers: k.Addrs(), topics: topics}
	h.ns = testenv.RedisNamespace(t, h.rdb)
	ts, err := config.NewTenants([]config.Tenant{{ID: h.tenant, APIKeys: []string{apiKey}, Timezone: o.timezone}})
	if err != nil {
		t.Fatal(err)
	}
	h.tenants = ts
	h.defs = startDefs(t, h.brokers, topics.Definitions)
	h.svc = h.newService(o)
	h.mux = http.NewServeMux()
	h.svc.Routes(h.mux)
	return h
}

// newService builds another instance on the same stores (a restart, or a
// second instance).
func (h *harness) newService(o opts) *segmenter.Service {
	cfg := segmenter.DefaultConfig()
	cfg.Namespace = h.ns
	cfg.TimerTick = 20 * time.Millisecond
	cfg.JobPoll = 50 * time.Millisecond
	cfg.BackfillPage = 50
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	deps := segmenter.Deps{
		Tenants:     h.tenants,
		Redis:       h.rdb,
		Kafka:       kafka.ClientConfig{Brokers: h.brokers},
		Topics:      h.topics,
		Log:         zerolog.Nop(),
		Clock:       h.clock.Now,
		Definitions: h.defs,
		Emitter:     h.sink,
	}
	if o.defs != nil {
		deps.Definitions = o.defs
	}
	if o.kafkaOut {
		deps.Emitter = nil
	}
	deps.Metrics = o.metrics
	if !o.noSource {
		deps.Profiles = h.src
	}
	svc, err := segmenter.New(cfg, deps)
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

// mux2 replaces the API mux (after a restart).
func (h *harness) mux2() *http.ServeMux {
	h.mux = http.NewServeMux()
	return h.mux
}

// do calls the HTTP API.
func (h *harness) do(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	w := httptest.NewRecorder()
	h.mux.ServeHTTP(w, req)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

// segment creates a segment and returns its id.
func (h *harness) segment(name, rule string, emitOnBackfill ...bool) string {
	h.t.Helper()
	body := map[string]any{"name": name, "rule": json.RawMessage(rule)}
	if len(emitOnBackfill) > 0 {
		body["emitOnBackfill"] = emitOnBackfill[0]
	}
	code, out := h.do("POST", "/v1/segments", body)
	if code != http.StatusCreated {
		h.t.Fatalf("create segment %s: %d %v", name, code, out)
	}
	return out["id"].(string)
}

// rec builds a profile-updates record with the next offset of partition 0.
func (h *harness) rec(u schemas.ProfileUpdate) *kgo.Record {
	h.t.Helper()
	if u.Tenant == "" {
		u.Tenant = h.tenant
	}
	if u.Type == "" {
		u.Type = schemas.ProfileUpdated
	}
	if u.Timestamp.IsZero() {
		u.Timestamp = h.clock.Now()
	}
	if u.Identities == nil {
		u.Identities = []schemas.Identity{{Type: "user_id", Value: "u-" + u.ProfileID}}
	}
	b, err := json.Marshal(u)
	if err != nil {
		h.t.Fatal(err)
	}
	h.offset++
	return &kgo.Record{Topic: h.topics.ProfileUpdates, Key: schemas.Key(u.Tenant, u.ProfileID), Value: b, Partition: 0, Offset: h.offset}
}

func (h *harness) handle(recs ...*kgo.Record) {
	h.t.Helper()
	if err := h.svc.Handle(context.Background(), recs); err != nil {
		h.t.Fatal(err)
	}
}

// traits builds an update that sets traits (all of them, as identity does).
func traitsUpdate(pid string, traits map[string]any, changed ...string) schemas.ProfileUpdate {
	ch := map[string]schemas.TraitChange{}
	for _, k := range changed {
		ch[k] = schemas.TraitChange{New: traits[k]}
	}
	if len(changed) == 0 {
		for k, v := range traits {
			ch[k] = schemas.TraitChange{New: v}
		}
	}
	return schemas.ProfileUpdate{ProfileID: pid, Traits: traits, Changes: ch}
}

func eventUpdate(pid, name string, at time.Time, props map[string]any, traits map[string]any) schemas.ProfileUpdate {
	return schemas.ProfileUpdate{ProfileID: pid, Traits: traits, Event: &schemas.EventSummary{Type: "track", Name: name, MessageID: fmt.Sprint(name, at.UnixNano(), msgSeq.Add(1)), Properties: props, Timestamp: at}}
}

// members lists a segment's members through ScanMembers, pages of 7,
// sorted by id.
func (h *harness) members(seg string) []string {
	h.t.Helper()
	var all []string
	cursor := ""
	for {
		ids, next, err := h.svc.ScanMembers(context.Background(), h.tenant, seg, cursor, 7)
		if err != nil {
			h.t.Fatal(err)
		}
		all = append(all, ids...)
		if next == "" {
			sort.Strings(all) // (listed in the order they entered)
			return all
		}
		cursor = next
	}
}

func (h *harness) fireTimers() {
	h.t.Helper()
	if err := segmenter.FireDueForTest(h.svc, context.Background(), h.tenant); err != nil {
		h.t.Fatal(err)
	}
}

// changesOf lists "type:cause" of a profile's changes for a segment.
func changesOf(cs []schemas.SegmentChange, seg, pid string) []string {
	var out []string
	for _, c := range cs {
		if c.SegmentID == seg && c.ProfileID == pid {
			out = append(out, strings.TrimPrefix(c.Type, "segment.")+":"+c.Cause)
		}
	}
	return out
}

// checkAlternation fails when a (profile, segment) sees two entries or two
// exits in a row (after deduplication by messageId), or one messageId names
// two different changes.
func checkAlternation(t testing.TB, cs []schemas.SegmentChange) map[string]bool {
	t.Helper()
	byID := map[string]string{}
	in := map[string]bool{}
	for _, c := range cs {
		sig := c.Type + c.SegmentID + c.ProfileID
		if prev, ok := byID[c.MessageID]; ok {
			if prev != sig {
				t.Fatalf("messageId %s names two changes", c.MessageID)
			}
			continue
		}
		byID[c.MessageID] = sig
		k := c.SegmentID + "/" + c.ProfileID
		entered := c.Type == schemas.SegmentEntered
		if in[k] == entered {
			t.Fatalf("%s: two %s in a row", k, c.Type)
		}
		in[k] = entered
	}
	return in
}
