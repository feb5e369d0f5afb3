package replay_test

import (
	"testing"
)

// BenchmarkSegmentBackfill: events-log records per second through
// `replay --segment` (read, filter, resolve, rebuild, re-evaluate,
// publish) over the benchmark log once the live pipeline applied it. The
// live identity stage keeps a 5-event timeline, so the segmenter's own
// backfill seeds from day counts and the rebuild rewrites every buyer's
// state.
//
//	go test ./replay -run XXX -bench SegmentBackfill -benchtime 20000x
func BenchmarkSegmentBackfill(b *testing.B) {
	e := newEnv(b)
	benchLog(b, e, b.N)
	e.liveWith(shortMemory())
	e.settle()
	e.emittingSegment("loyal", `{"event":"Order Completed","count":{"op":"gte","value":8}}`)
	e.backfilled("loyal")
	o := e.options()
	o.Identity = shortMemory()
	o.Segment, o.Tenant = "loyal", e.tenant
	res, el := timedRun(b, o)
	if res.Read != int64(b.N) {
		b.Fatalf("read %d of %d", res.Read, b.N)
	}
	s := res.Segment
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
	b.Logf("read %s; %d matched, %d profiles, %d states written, %d entered, %d exited", res.ReadTime, s.Matched, s.Profiles, s.Written, s.Entered, s.Exited)
}
