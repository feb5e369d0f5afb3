package csvimport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/ingest/csvimport"
	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/defs"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

type harness struct {
	t       testing.TB
	srv     *httptest.Server
	svc     *csvimport.Service
	brokers []string
	topics  schemas.Topics
	tenant  string
	key     string
	tenants *config.Tenants
}

func startDefs(t testing.TB, brokers []string, topic string) *defs.Store {
	t.Helper()
	return testenv.Defs(t, brokers, topic)
}

// newHarness wires the import on the embedded broker, the real Redis and a
// real definitions store, behind an httptest server.
func newHarness(t testing.TB, strict bool, cfg csvimport.Config) *harness {
	t.Helper()
	return newHarnessOn(t, strict, cfg, testenv.Redis(t))
}

// newHarnessOn is newHarness on a given Redis (the real server or miniredis).
func newHarnessOn(t testing.TB, strict bool, cfg csvimport.Config, rdb redis.UniversalClient) *harness {
	t.Helper()
	k, topics := testenv.Kafka(t)
	h := &harness{t: t, brokers: k.Addrs(), topics: topics, tenant: testenv.Tenant(t), key: "api-" + testenv.Namespace(t)}
	ts, err := config.NewTenants([]config.Tenant{{ID: h.tenant, APIKeys: []string{h.key}, StrictSchema: strict, Timezone: "Europe/Paris",
		Identity: config.IdentityRules{DefaultRegion: "FR"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.tenants = ts
	store := startDefs(t, h.brokers, topics.Definitions)
	schema, err := propschema.New(propschema.DefaultConfig(), propschema.Deps{Tenants: ts, Defs: store, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := schema.PutProperty(context.Background(), h.tenant, propschema.PropertyInput{Name: "loyaltyPoints", Type: propschema.TypeNumber}); err != nil {
		t.Fatal(err)
	}
	pub := ingest.NewPublisher(testenv.Client(t, h.brokers), topics, "import")
	cfg.Namespace = testenv.RedisNamespace(t, rdb)
	h.svc, err = csvimport.New(cfg, csvimport.Deps{
		Tenants: ts, Redis: rdb, Publisher: pub, Schema: schema.Validator(), Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.svc.Routes(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// upload posts a CSV with form fields (in order, before the file).
func (h *harness) upload(csvBody string, fields ...[2]string) (int, []byte) {
	h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile("file", "users.csv")
	_, _ = io.WriteString(fw, csvBody)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/imports", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+h.key)
	return h.do(req)
}

func (h *harness) get(path string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.key)
	return h.do(req)
}

func (h *harness) do(req *http.Request) (int, []byte) {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func decodeStatus(t testing.TB, b []byte) csvimport.Status {
	t.Helper()
	var st csvimport.Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("status body %s: %v", b, err)
	}
	return st
}

// events reads the events topic until want records arrived.
func (h *harness) events(want int) []schemas.Event {
	h.t.Helper()
	recs := testenv.ReadAll(h.t, h.brokers, h.topics.Events, want, 10*time.Second)
	out := make([]schemas.Event, 0, len(recs))
	for _, r := range recs {
		var e schemas.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			h.t.Fatal(err)
		}
		if string(r.Key) != h.tenant+"/"+e.UserID {
			h.t.Errorf("record key %q, want %q", r.Key, h.tenant+"/"+e.UserID)
		}
		out = append(out, e)
	}
	return out
}

func (h *harness) tenantConfig() *config.Tenant {
	t, _ := h.tenants.Get(h.tenant)
	return t
}
