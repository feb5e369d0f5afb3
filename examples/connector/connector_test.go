package connector_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/examples/connector"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func TestConnectorRecordsFollowTheEventsTopicContract(t *testing.T) {
	k, topics := testenv.Kafka(t)
	p, err := connector.NewProducer(connector.Config{Brokers: k.Addrs(), Tenant: "demo", Topic: topics.Events})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs := []map[string]any{
		connector.Track("42", "Order Completed", map[string]any{"revenue": 129.5}),
		connector.Identify("42", map[string]any{"email": "a@example.com"}),
		{"type": "page", "anonymousId": "anon-7", "name": "Home", "messageId": "fixed-id"},
	}
	if err := p.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	recs := testenv.ReadAll(t, k.Addrs(), topics.Events, 3, 10*time.Second)
	if len(recs) != 3 {
		t.Fatalf("read %d records", len(recs))
	}
	byID := map[string]*kgo.Record{}
	for _, r := range recs {
		if err := schemas.Validate(schemas.FileEvent, r.Value); err != nil {
			t.Fatalf("record fails the event schema: %v: %s", err, r.Value)
		}
		var e schemas.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		if e.ReceivedAt.IsZero() || e.Timestamp.IsZero() || e.MessageID == "" {
			t.Fatalf("messageId, timestamp and receivedAt must be set: %s", r.Value)
		}
		if string(r.Key) != string(schemas.Key("demo", e.IdentityKey())) {
			t.Fatalf("key %q for %s", r.Key, r.Value)
		}
		if header(r, schemas.HeaderTenant) != "demo" || header(r, schemas.HeaderSchema) != schemas.SchemaEvent ||
			header(r, schemas.HeaderContentType) != "application/json" || header(r, schemas.HeaderSource) != "connector" {
			t.Fatalf("headers %+v", r.Headers)
		}
		byID[e.MessageID] = r
	}
	if _, ok := byID["fixed-id"]; !ok {
		t.Fatal("a given messageId was replaced")
	}
	// kafka-go's murmur2 balancer puts a key where franz-go (and Java)
	// would: the connector's records of a user share the gateway's
	// partition and keep their order.
	cl := testenv.Client(t, k.Addrs())
	for _, r := range recs {
		rec := &kgo.Record{Topic: topics.Events, Key: r.Key, Value: []byte(`{}`)}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if rec.Partition != r.Partition {
			t.Fatalf("key %q: connector partition %d, franz-go partition %d", r.Key, r.Partition, rec.Partition)
		}
	}
}

func TestConnectorRejectsInvalidMessages(t *testing.T) {
	k, topics := testenv.Kafka(t)
	p, err := connector.NewProducer(connector.Config{Brokers: k.Addrs(), Tenant: "demo", Topic: topics.Events})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, m := range []map[string]any{
		{"type": "track", "userId": "1"},             // no event
		{"type": "identify"},                         // no ids
		{"type": "launch", "userId": "1"},            // unknown type
		{"type": "track", "event": "x", "userId": 5}, // userId not a string
	} {
		if err := p.Send(context.Background(), connector.Track("1", "ok", nil), m); !errors.Is(err, connector.ErrInvalidMessage) {
			t.Errorf("%v: %v", m, err)
		}
	}
	if recs := testenv.ReadAll(t, k.Addrs(), topics.Events, 1, 500*time.Millisecond); len(recs) != 0 {
		t.Fatalf("%d records sent despite an invalid message in the batch", len(recs))
	}
	if _, err := connector.NewProducer(connector.Config{Brokers: k.Addrs(), Tenant: "a/b"}); err == nil {
		t.Fatal("tenant with '/' accepted")
	}
}

func ExampleProducer_Send() {
	p, err := connector.NewProducer(connector.Config{Brokers: []string{"127.0.0.1:9092"}, Tenant: "demo"})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	_ = p.Send(context.Background(),
		connector.Identify("42", map[string]any{"email": "asha@example.com"}),
		connector.Track("42", "Order Completed", map[string]any{"revenue": 129.5, "currency": "INR"}),
	)
}
