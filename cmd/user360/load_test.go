package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/internal/loadgen"
)

// TestLoadPipelineMeasuresEveryEntryAndItsStages: the load tool's
// pipeline mode against a `user360 dev`: every identify it sends enters
// the measured segment exactly once, and the stage split matches every
// event to its profile update and its entry.
func TestLoadPipelineMeasuresEveryEntryAndItsStages(t *testing.T) {
	url, broker := devProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const n = 300
	res, err := loadgen.RunPipeline(ctx, loadgen.PipelineConfig{
		URL: url, WriteKey: "wk_e2e", APIKey: "ak_e2e", Brokers: []string{broker},
		Events: n, BatchSize: 20, Conns: 4, ExtraSegments: 3, Wait: time.Minute, Stages: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != n || res.Entered != n || res.Doubled != 0 || res.SegmentsDefined != 4 {
		t.Fatalf("result %s", res)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("latency percentiles out of order: %s", res)
	}
	st := res.Stages
	if st == nil || st.Identity.N != n || st.Segmenter.N != n {
		t.Fatalf("stages %v", st)
	}
	if st.Identity.P50 < 0 || st.Segmenter.P50 < 0 || !strings.Contains(res.String(), "stages: identity") {
		t.Errorf("stages %s", res)
	}
}
