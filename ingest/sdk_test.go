package ingest_test

import (
	"encoding/json"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"

	"github.com/user360/user360/schemas"
)

// TestSegmentGoSDKUnchanged sends every call type with Segment's own Go SDK,
// configured with a trailing slash (it then posts to //v1/batch), and checks
// the records in the events topic.
func TestSegmentGoSDKUnchanged(t *testing.T) {
	h := newHarness(t, nil)
	var failures []error
	client, err := analytics.NewWithConfig(writeKey, analytics.Config{
		Endpoint:  h.url + "/",
		Interval:  50 * time.Millisecond,
		BatchSize: 100,
		Callback:  callback{fail: func(err error) { failures = append(failures, err) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []analytics.Message{
		analytics.Identify{UserId: "u-1", Traits: analytics.NewTraits().SetEmail("A@Example.com ").Set("plan", "pro")},
		analytics.Track{UserId: "u-1", Event: "Order Completed", Properties: analytics.NewProperties().SetRevenue(120.5)},
		analytics.Alias{PreviousId: "anon-9", UserId: "u-1"},
		analytics.Page{UserId: "u-1", Name: "Checkout"},
		analytics.Screen{UserId: "u-1", Name: "Home"},
		analytics.Group{UserId: "u-1", GroupId: "g-42"},
		analytics.Track{AnonymousId: "anon-9", Event: "Product Viewed"},
	}
	for _, m := range msgs {
		if err := client.Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if len(failures) > 0 {
		t.Fatalf("SDK reported failures: %v", failures)
	}
	recs := h.read(t, h.topics.Events, len(msgs))
	types := map[string]int{}
	for _, r := range recs {
		var e schemas.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		types[e.Type]++
		lib, _ := e.Context["library"].(map[string]any)
		if lib["name"] != "analytics-go" {
			t.Errorf("batch-level context.library not merged into %s: %v", e.Type, e.Context)
		}
		if e.SentAt == nil || e.MessageID == "" {
			t.Errorf("sentAt/messageId missing: %s", r.Value)
		}
	}
	for typ, want := range map[string]int{"identify": 1, "track": 2, "alias": 1, "page": 1, "screen": 1, "group": 1} {
		if types[typ] != want {
			t.Errorf("%s records: %d, want %d", typ, types[typ], want)
		}
	}
}

type callback struct{ fail func(error) }

func (c callback) Success(analytics.Message)            {}
func (c callback) Failure(_ analytics.Message, e error) { c.fail(e) }
