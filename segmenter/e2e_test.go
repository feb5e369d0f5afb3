package segmenter_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// TestEndToEndThroughKafka runs the role on the embedded broker: profile
// updates in, segment changes out, keyed by tenant and profile.
func TestEndToEndThroughKafka(t *testing.T) {
	h := newHarness(t, opts{kafkaOut: true})
	seg := h.segment("India", `{"trait":"country","op":"eq","value":"IN"}`)
	stop := h.run()
	defer stop()
	cl := testenv.Client(t, h.brokers)
	for i, c := range []string{"IN", "US", "IN"} {
		r := h.rec(traitsUpdate("p1", map[string]any{"country": c}, "country"))
		r.Partition, r.Offset = 0, 0
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(i, err)
		}
	}
	recs := testenv.ReadAll(t, h.brokers, h.topics.SegmentChanges, 3, 15*time.Second)
	if len(recs) != 3 {
		t.Fatalf("got %d segment changes", len(recs))
	}
	var types []string
	for _, r := range recs {
		var c schemas.SegmentChange
		if err := json.Unmarshal(r.Value, &c); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != h.tenant+"/p1" || c.SegmentID != seg {
			t.Fatalf("record %s %+v", r.Key, c)
		}
		hdr := map[string]string{}
		for _, x := range r.Headers {
			hdr[x.Key] = string(x.Value)
		}
		if hdr[schemas.HeaderSchema] != schemas.SchemaSegmentChange || hdr[schemas.HeaderTenant] != h.tenant {
			t.Fatalf("headers %v", hdr)
		}
		types = append(types, c.Type)
	}
	if types[0] != schemas.SegmentEntered || types[1] != schemas.SegmentExited || types[2] != schemas.SegmentEntered {
		t.Fatalf("types %v", types)
	}
}
