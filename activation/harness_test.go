package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

const testAPIKey = "api-key-activation"

// env is a running activation role on the embedded broker and a Redis.
type env struct {
	t       testing.TB
	tenant  string
	brokers []string
	topics  schemas.Topics
	rdb     redis.UniversalClient
	defs    *defs.Store
	svc     *Service
	api     *httptest.Server
	prod    *kgo.Client
	cancel  context.CancelFunc
	done    chan struct{}
}

func testConfig() Config {
	c := DefaultConfig()
	c.BaseBackoff = 40 * time.Millisecond
	c.MaxBackoff = 2 * time.Second
	c.PollInterval = 10 * time.Millisecond
	c.Timeout = 5 * time.Second
	c.BreakerCooldown = 100 * time.Millisecond
	c.BreakerThreshold = 50
	return c
}

type envOpt func(*Config, *Deps)

// newEnv starts everything but Run (see start).
func newEnv(t testing.TB, rdb redis.UniversalClient, opts ...envOpt) *env {
	t.Helper()
	k, topics := testenv.Kafka(t)
	e := &env{t: t, tenant: testenv.Tenant(t), brokers: k.Addrs(), topics: topics, rdb: rdb}
	ts, err := config.NewTenants([]config.Tenant{{ID: e.tenant, APIKeys: []string{testAPIKey}, AllowPrivateWebhooks: true},
		{ID: "strict" + e.tenant, APIKeys: []string{testAPIKey + "-strict"}}})
	if err != nil {
		t.Fatal(err)
	}
	st := testenv.Defs(t, e.brokers, topics.Definitions)
	e.defs = st
	cfg := testConfig()
	cfg.Namespace = testenv.RedisNamespace(t, rdb)
	deps := Deps{Tenants: ts, Redis: rdb, Kafka: kafka.ClientConfig{Brokers: e.brokers}, Topics: topics,
		Log: zerolog.Nop(), Defs: st}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	svc, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	mux := http.NewServeMux()
	svc.Routes(mux)
	e.api = httptest.NewServer(mux)
	t.Cleanup(e.api.Close)
	e.prod = testenv.Client(t, e.brokers)
	return e
}

// start runs the role until the test ends.
func (e *env) start() *env {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		if err := e.svc.Run(ctx); err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}()
	e.t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

// do calls the API and decodes the JSON answer into out (when non-nil).
func (e *env) do(method, path string, body any, out any) int {
	e.t.Helper()
	return e.doKey(testAPIKey, method, path, body, out)
}

func (e *env) doKey(key, method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.api.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// createDest creates a destination and waits until this instance's
// dispatcher knows it.
func (e *env) createDest(body map[string]any) (id, secret string) {
	e.t.Helper()
	var out map[string]any
	if code := e.do("POST", "/v1/destinations", body, &out); code != http.StatusCreated {
		e.t.Fatalf("create destination: %d %v", code, out)
	}
	id, secret = out["id"].(string), out["secret"].(string)
	waitFor(e.t, 5*time.Second, func() bool { return e.svc.dispatcher(e.tenant, id) != nil })
	return id, secret
}

func (e *env) change(typ, profile, segment string, seq int) schemas.SegmentChange {
	return schemas.SegmentChange{Type: typ, MessageID: fmt.Sprintf("sc-%s-%s-%d", segment, profile, seq), Tenant: e.tenant,
		SegmentID: segment, SegmentName: "Big Spenders", ProfileID: profile, UserID: "u-" + profile,
		Identities: []schemas.Identity{{Type: "user_id", Value: "u-" + profile}, {Type: "email", Value: profile + "@example.com"}},
		Timestamp:  time.Now().UTC(), Cause: schemas.CauseEvent}
}

func changeRecord(topic string, c schemas.SegmentChange) *kgo.Record {
	v, _ := json.Marshal(c)
	return &kgo.Record{Topic: topic, Key: schemas.Key(c.Tenant, c.ProfileID), Value: v, Headers: []kgo.RecordHeader{
		{Key: schemas.HeaderTenant, Value: []byte(c.Tenant)}, {Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaSegmentChange)}}}
}

func (e *env) produce(cs ...schemas.SegmentChange) {
	e.t.Helper()
	recs := make([]*kgo.Record, len(cs))
	for i, c := range cs {
		recs[i] = changeRecord(e.topics.SegmentChanges, c)
	}
	if err := e.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// recvCall is one request a receiver got.
type recvCall struct {
	At         time.Time
	DeliveryID string
	Timestamp  string
	Signature  string
	Body       []byte
	Status     int
}

// receiver is an httptest webhook receiver that records every call and
// answers with respond (200 when nil).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []recvCall
	respond func(n int, c *recvCall, w http.ResponseWriter) int // n: 1-based count of calls with this delivery id
}

func newReceiver(t testing.TB, respond func(n int, c *recvCall, w http.ResponseWriter) int) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := recvCall{At: time.Now(), DeliveryID: r.Header.Get(HeaderDeliveryID), Timestamp: r.Header.Get(HeaderTimestamp),
			Signature: r.Header.Get(HeaderSignature), Body: b, Status: 200}
		rc.mu.Lock()
		n := 1
		for _, p := range rc.calls {
			if p.DeliveryID == c.DeliveryID {
				n++
			}
		}
		respond := rc.respond
		rc.mu.Unlock()
		if respond != nil {
			c.Status = respond(n, &c, w)
		}
		rc.mu.Lock()
		rc.calls = append(rc.calls, c)
		rc.mu.Unlock()
		w.WriteHeader(c.Status)
	}))
	t.Cleanup(rc.Server.Close)
	return rc
}

func (rc *receiver) setRespond(f func(n int, c *recvCall, w http.ResponseWriter) int) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *receiver) snapshot() []recvCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recvCall(nil), rc.calls...)
}

// delivered returns the successful calls.
func (rc *receiver) delivered() []recvCall {
	var out []recvCall
	for _, c := range rc.snapshot() {
		if c.Status < 300 {
			out = append(out, c)
		}
	}
	return out
}

// firstDelivered returns the first successful call of each delivery id,
// in the order they came: delivery is at-least-once, so a batch consumed
// again after its job was delivered calls again with the same id, which a
// receiver drops (docs/design/activation.md, guarantee 5).
func (rc *receiver) firstDelivered() []recvCall {
	seen := map[string]bool{}
	var out []recvCall
	for _, c := range rc.delivered() {
		if !seen[c.DeliveryID] {
			seen[c.DeliveryID] = true
			out = append(out, c)
		}
	}
	return out
}

// callLog lists every call (delivery id and status) for a failure message.
func (rc *receiver) callLog() string {
	var b strings.Builder
	for _, c := range rc.snapshot() {
		fmt.Fprintf(&b, "\n  %s %s %d", c.At.Format("15:04:05.000"), c.DeliveryID, c.Status)
	}
	return b.String()
}

func waitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func webhook(url string, extra map[string]any) map[string]any {
	b := map[string]any{"name": "hook", "type": "webhook", "url": url, "segments": "all",
		"events": []string{"segment.entered", "segment.exited"}, "format": "user360", "secret": "s3cret"}
	for k, v := range extra {
		b[k] = v
	}
	return b
}
