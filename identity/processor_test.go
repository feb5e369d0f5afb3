package identity

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestBadRecordsAreDeadLetteredAndGoodOnesApplied: bad input never blocks
// the batch and never loses the good data beside it.
func TestBadRecordsAreDeadLetteredAndGoodOnesApplied(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	reg := prometheus.NewRegistry()
	g.proc = NewProcessor(g.store, g.ts, schemas.NewTopics(""), g.out.produce, zerolog.Nop(), reg)
	noHeader := g.record(t, schemas.Event{Type: "identify", MessageID: "k1", UserID: "keyed", Traits: map[string]any{"plan": "pro"}})
	noHeader.Headers = nil // tenant from the key prefix
	recs := []*kgo.Record{
		{Key: []byte(g.tenant + "/x"), Value: []byte(`{not json`), Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte(g.tenant)}}},
		{Key: []byte("nobody/x"), Value: []byte(`{"type":"track","messageId":"n1","userId":"1"}`)},
		g.record(t, schemas.Event{Type: "explode", MessageID: "x1", UserID: "1"}),
		g.record(t, schemas.Event{Type: "identify", UserID: "1"}), // no messageId
		g.record(t, schemas.Event{Type: "identify", MessageID: "ok1", UserID: "good", Traits: map[string]any{"emailOptin": "perhaps", "city": "Pune"}}),
		noHeader,
	}
	if err := g.proc.Handle(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if p := g.profile(t, "user_id:good"); p.Traits["city"] != "Pune" {
		t.Fatalf("good trait lost: %v", p.Traits)
	} else if _, has := p.Traits["emailOptin"]; has {
		t.Fatal("a mistyped system trait was stored")
	}
	if p := g.profile(t, "user_id:keyed"); p.Traits["plan"] != "pro" {
		t.Fatalf("record without header: %v", p.Traits)
	}
	dl := g.out.deadLetters(t)
	var fields, reasons []string
	for _, d := range dl {
		fields = append(fields, d.Field)
		reasons = append(reasons, d.Reason)
		if d.Stage != "identity" || len(d.Original) == 0 {
			t.Fatalf("dead letter %+v", d)
		}
	}
	all := strings.Join(reasons, "|")
	for _, want := range []string{"not a valid event", "unknown tenant", "unknown type", "messageId is required", "must be a boolean"} {
		if !strings.Contains(all, want) {
			t.Errorf("no dead letter saying %q in %q", want, all)
		}
	}
	if !strings.Contains(strings.Join(fields, ","), "traits.emailOptin") {
		t.Errorf("dead letter fields %v", fields)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var applied float64
	for _, mf := range mfs {
		if mf.GetName() != "user360_identity_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["tenant"] == g.tenant && labels["type"] == "identify" && labels["outcome"] == "applied" {
				applied = m.GetCounter().GetValue()
			}
		}
	}
	if applied != 2 {
		t.Errorf("applied identify = %v, want 2", applied)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{TimelineCap: -1}, {DedupTTL: 1}, {Namespace: "a{b"}, {CounterLookbackDays: -3},
		{TombstoneTTL: DefaultConfig().DedupTTL / 2}, // (shorter than DedupTTL)
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := New(DefaultConfig(), Deps{}); err == nil {
		t.Error("New without dependencies accepted")
	}
}

// A profile.updated says which traits changed, and says it with an empty
// object when none did (a consumer need not compare the traits).
func TestProfileUpdatedSaysNoChanges(t *testing.T) {
	g := newRig(t, testenv.Redis(t))
	ctx := context.Background()
	recs := []*kgo.Record{
		g.record(t, schemas.Event{Type: "identify", MessageID: "m-1", UserID: "u1", Traits: map[string]any{"plan": "pro"}}),
		g.record(t, schemas.Event{Type: "track", MessageID: "m-2", UserID: "u1", Event: "Viewed"}),
	}
	for _, r := range recs { // one at a time: the second is planned from the cache
		if err := g.proc.Handle(ctx, []*kgo.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	var changes []string
	for _, r := range g.out.recs {
		var u struct {
			Type    string          `json:"type"`
			Changes json.RawMessage `json:"changes"`
		}
		if err := json.Unmarshal(r.Value, &u); err != nil {
			t.Fatal(err)
		}
		if u.Type == schemas.ProfileUpdated {
			changes = append(changes, string(u.Changes))
		}
	}
	if len(changes) != 2 || !strings.Contains(changes[0], `"plan"`) || changes[1] != `{}` {
		t.Fatalf("changes of the two profile.updated records: %q", changes)
	}
}

// TestTenantNamesShareOneString: records of one tenant get the same
// string (no copy per record), and a record without the header falls back
// to its key.
func TestTenantNamesShareOneString(t *testing.T) {
	var names tenantNames
	rec := func(tenant string) *kgo.Record {
		return &kgo.Record{Key: []byte(tenant + "/u1"), Headers: []kgo.RecordHeader{{Key: schemas.HeaderTenant, Value: []byte(tenant)}}}
	}
	a, b := names.of(rec("acme")), names.of(rec("acme"))
	if a != "acme" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("%q and %q are not one string", a, b)
	}
	if got := names.of(&kgo.Record{Key: []byte("globex/u2")}); got != "globex" {
		t.Fatalf("tenant from the key: %q", got)
	}
}
