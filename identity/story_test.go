package identity

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// liveService runs a Service (consumer + API) on the real Redis and an
// embedded broker.
type liveService struct {
	svc     *Service
	tenant  string
	brokers []string
	topics  schemas.Topics
	pub     *ingest.Publisher
	srv     *httptest.Server
}

func startLive(t *testing.T, run bool) *liveService {
	t.Helper()
	broker, topics := testenv.Kafka(t)
	brokers := broker.Addrs()
	tenant := testenv.Tenant(t)
	ts := testTenants(t, tenant)
	cl := testenv.Client(t, brokers)
	pub := ingest.NewPublisher(cl, topics, "users-api")
	cfg := DefaultConfig()
	rdb := testenv.Redis(t)
	cfg.Namespace = namespace(t, rdb)
	cfg.Group = "identity-" + tenant
	svc, err := New(cfg, Deps{
		Tenants: ts, Redis: rdb, Kafka: kafka.ClientConfig{Brokers: brokers},
		Topics: topics, Log: zerolog.Nop(), Publisher: pub,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	return &liveService{svc: svc, tenant: tenant, brokers: brokers, topics: topics, pub: pub, srv: srv}
}

// get calls the API with the tenant's API key and decodes the body.
func (l *liveService) get(t *testing.T, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, l.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer api-"+l.tenant)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// eventually polls cond until it holds or 15s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrossChannelStory: an anonymous web chat, then a WhatsApp
// conversation that yields a phone number, then an identify with email and
// userId that links them: one profile with every identifier and the union
// of traits and events, through the events topic and read via the API.
func TestCrossChannelStory(t *testing.T) {
	l := startLive(t, true)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	web := []schemas.Event{
		{Type: "page", AnonymousID: "web-7f3", Name: "Pricing", Timestamp: t0, Context: map[string]any{"channel": "web"}},
		{Type: "track", AnonymousID: "web-7f3", Event: "Chat Started", Timestamp: t0.Add(time.Minute), Context: map[string]any{"channel": "web"}},
		{Type: "identify", AnonymousID: "web-7f3", Traits: map[string]any{"language": "en", "tags": []any{"chat"}}, Timestamp: t0.Add(2 * time.Minute)},
	}
	wa := map[string]any{"channel": "whatsapp", "externalIds": []any{map[string]any{"id": "wa-919845012345", "type": "whatsapp"}}}
	whatsapp := []schemas.Event{
		{Type: "track", Event: "Message Received", Timestamp: t0.Add(time.Hour), Context: wa},
		{Type: "identify", Traits: map[string]any{"phone": "098450 12345", "firstName": "Asha", "tags": "whatsapp"}, Timestamp: t0.Add(time.Hour + time.Minute), Context: wa},
	}
	login := []schemas.Event{
		{Type: "identify", UserID: "42", AnonymousID: "web-7f3", Traits: map[string]any{"email": "Asha@Example.com", "phone": "+91 98450 12345", "lastName": "Rao"}, Timestamp: t0.Add(2 * time.Hour)},
	}
	for _, batch := range [][]schemas.Event{web, whatsapp} {
		if err := l.pub.Publish(ctx, l.tenant, batch, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The two channels are two people until the login links them.
	var wp, ap schemas.Profile
	eventually(t, "both channel profiles", func() bool {
		return l.get(t, "/v1/profiles/whatsapp:wa-919845012345", &wp) == 200 &&
			l.get(t, "/v1/profiles/anonymous_id:web-7f3", &ap) == 200 &&
			wp.Traits["firstName"] == "Asha" && ap.Traits["language"] == "en"
	})
	if wp.ID == ap.ID {
		t.Fatal("the channels were linked before any message linked them")
	}
	if err := l.pub.Publish(ctx, l.tenant, login, nil); err != nil {
		t.Fatal(err)
	}
	var p schemas.Profile
	eventually(t, "the linked profile", func() bool {
		return l.get(t, "/v1/profiles/user_id:42", &p) == 200 && len(p.Identities) == 5
	})
	for _, id := range [][2]string{
		{"user_id", "42"}, {"email", "asha@example.com"}, {"phone", "+919845012345"},
		{"anonymous_id", "web-7f3"}, {"whatsapp", "wa-919845012345"},
	} {
		if !hasIdentity(p, id[0], id[1]) {
			t.Errorf("identity %s:%s missing from %v", id[0], id[1], p.Identities)
		}
	}
	for k, want := range map[string]any{"firstName": "Asha", "lastName": "Rao", "language": "en", "email": "asha@example.com", "phone": "+919845012345", "userId": "42"} {
		if p.Traits[k] != want {
			t.Errorf("trait %s = %v, want %v", k, p.Traits[k], want)
		}
	}
	tags, _ := p.Traits["tags"].([]any)
	if len(tags) != 2 {
		t.Errorf("tags = %v, want the union of chat and whatsapp", p.Traits["tags"])
	}
	if p.Traits["lastChannel"] != "whatsapp" {
		t.Errorf("lastChannel = %v", p.Traits["lastChannel"])
	}
	if len(p.MergedFrom) != 1 {
		t.Errorf("mergedFrom = %v", p.MergedFrom)
	}
	// Every reference resolves to the one profile.
	for _, ref := range []string{"email:asha@example.com", "phone:+919845012345", "phone:09845012345", "anonymous_id:web-7f3", wp.ID, ap.ID} {
		var q schemas.Profile
		if code := l.get(t, "/v1/profiles/"+ref, &q); code != 200 || q.ID != p.ID {
			t.Errorf("%s -> %d %s, want %s", ref, code, q.ID, p.ID)
		}
	}
	var page EventPage
	if code := l.get(t, "/v1/profiles/user_id:42/events", &page); code != 200 || len(page.Events) != 6 {
		t.Fatalf("events: %d %d entries, want 6", code, len(page.Events))
	}
	if page.DailyCounts["Chat Started"]["2026-11-28"] != 1 || page.DailyCounts["Message Received"]["2026-11-28"] != 1 {
		t.Errorf("counts = %v", page.DailyCounts)
	}
	// The profile-updates topic carries the merge.
	recs := testenv.ReadAll(t, l.brokers, l.topics.ProfileUpdates, 12, 10*time.Second)
	var merged bool
	for _, r := range recs {
		var u schemas.ProfileUpdate
		if err := json.Unmarshal(r.Value, &u); err != nil {
			t.Fatal(err)
		}
		if err := schemas.Validate(schemas.FileProfileUpdate, r.Value); err != nil {
			t.Fatalf("record fails its schema: %v\n%s", err, r.Value)
		}
		if string(r.Key) != l.tenant+"/"+u.ProfileID {
			t.Fatalf("key %q for profile %s", r.Key, u.ProfileID)
		}
		if u.Type == schemas.ProfileMerged && u.Merge.Survivor == p.ID {
			merged = true
		}
	}
	if !merged {
		t.Error("no profile.merged record")
	}
}

// TestUserAPIWriteIsReadableAfterApply: a user API write answered 202 goes
// through the log and the running consumer, and is then readable.
func TestUserAPIWriteIsReadableAfterApply(t *testing.T) {
	l := startLive(t, true)
	a := &apiRig{liveService: l}
	key := "api-" + l.tenant
	start := time.Now()
	if code, body := a.call(t, "POST", "/v1/users", key, map[string]any{"userId": "u-77", "firstName": "Ravi", "tags": []any{"beta"}}); code != 202 {
		t.Fatalf("POST: %d %s", code, body)
	}
	var u User
	eventually(t, "the user readable", func() bool {
		code, body := a.call(t, "GET", "/v1/users/u-77", key, nil)
		return code == 200 && json.Unmarshal(body, &u) == nil && u.Properties["firstName"] == "Ravi"
	})
	t.Logf("readable %v after the 202", time.Since(start))
	if code, body := a.call(t, "POST", "/v1/events", key, map[string]any{"userId": "u-77", "eventName": "Signed Up"}); code != 202 {
		t.Fatalf("POST event: %d %s", code, body)
	}
	eventually(t, "the event on the timeline", func() bool {
		var page EventPage
		code, body := a.call(t, "GET", "/v1/profiles/user_id:u-77/events", key, nil)
		return code == 200 && json.Unmarshal(body, &page) == nil && page.DailyCounts["Signed Up"] != nil
	})
	if code, _ := a.call(t, "DELETE", "/v1/users/u-77", key, nil); code != 202 {
		t.Fatalf("DELETE: %d", code)
	}
	eventually(t, "the user deleted", func() bool {
		code, _ := a.call(t, "GET", "/v1/users/u-77", key, nil)
		return code == 404
	})
}
