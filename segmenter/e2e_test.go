package segmenter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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
	var batch []*kgo.Record // (one produce: the segmenter may read them as one batch)
	for _, u := range []struct{ pid, country string }{{"p1", "IN"}, {"p2", "IN"}, {"p1", "US"}, {"p2", "US"}, {"p1", "IN"}} {
		r := h.rec(traitsUpdate(u.pid, map[string]any{"country": u.country}, "country"))
		r.Partition, r.Offset = 0, 0
		batch = append(batch, r)
	}
	if err := cl.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	recs := testenv.ReadAll(t, h.brokers, h.topics.SegmentChanges, 5, 15*time.Second)
	if len(recs) != 5 {
		t.Fatalf("got %d segment changes", len(recs))
	}
	types := map[string][]string{}
	for _, r := range recs {
		var c schemas.SegmentChange
		if err := json.Unmarshal(r.Value, &c); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != h.tenant+"/"+c.ProfileID || c.SegmentID != seg || c.MessageID == "" {
			t.Fatalf("record %s %+v", r.Key, c)
		}
		hdr := map[string]string{}
		for _, x := range r.Headers {
			hdr[x.Key] = string(x.Value)
		}
		if hdr[schemas.HeaderSchema] != schemas.SchemaSegmentChange || hdr[schemas.HeaderTenant] != h.tenant {
			t.Fatalf("headers %v", hdr)
		}
		types[c.ProfileID] = append(types[c.ProfileID], strings.TrimPrefix(c.Type, "segment."))
	}
	if got := fmt.Sprint(types); got != "map[p1:[entered exited entered] p2:[entered exited]]" {
		t.Fatalf("changes %s", got)
	}
}
