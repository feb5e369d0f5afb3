package replay

import (
	"fmt"
	"io"
	"strings"

	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"
)

// SegmentPlan is what a segment backfill (Options.Segment) rebuilds.
type SegmentPlan struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Revision int64  `json:"revision"`
	// Events are the event names the segment's conditions read: only the
	// tenant's track, page and screen records with these names count.
	Events []string `json:"events"`
	// Conditions is the number of distinct event conditions rebuilt.
	Conditions int `json:"conditions"`
	// Cause of the published changes; Emit is the segment's
	// emitOnBackfill (false: memberships are stored, nothing published).
	Cause string `json:"cause"`
	Emit  bool   `json:"emit"`
}

// newSegmentPlan is the plan of a segment backfill over ranges of the live
// namespace.
func newSegmentPlan(o *Options, live string, ranges []PartitionRange, se segmenter.SegmentEvents) Plan {
	p := Plan{
		Topic: o.Topics.Events, Partitions: ranges, Live: live, Target: live,
		Tenant: o.Tenant, From: o.From, To: o.To,
		Segment: &SegmentPlan{
			ID: se.Segment.ID, Name: se.Segment.Name, Revision: se.Segment.Revision,
			Events: se.Names(), Conditions: len(se.Conds),
			Cause: schemas.CauseBackfill, Emit: se.Segment.EmitOnBackfill,
		},
	}
	for _, r := range ranges {
		p.Records += r.Records()
	}
	return p
}

// printSegment writes a segment backfill's plan (the --dry-run output).
func (p Plan) printSegment(w io.Writer) {
	s := p.Segment
	fmt.Fprintf(w, "segment backfill plan\n")
	fmt.Fprintf(w, "  topic           %s\n", p.Topic)
	fmt.Fprintf(w, "  namespace       %s (live; no new generation, no switch)\n", p.Live)
	fmt.Fprintf(w, "  tenant          %s\n", p.Tenant)
	fmt.Fprintf(w, "  segment         %s %q (revision %d)\n", s.ID, s.Name, s.Revision)
	fmt.Fprintf(w, "  events          %s (%d event conditions)\n", strings.Join(quoteAll(s.Events), ", "), s.Conditions)
	printWindow(w, p.From, p.To)
	if s.Emit {
		fmt.Fprintf(w, "  changes         published to segment-changes, cause %s\n", s.Cause)
	} else {
		fmt.Fprintf(w, "  changes         stored, not published (emitOnBackfill false)\n")
	}
	for _, r := range p.Partitions {
		fmt.Fprintf(w, "  partition %-4d  offsets [%d, %d)  %d records\n", r.Partition, r.Start, r.End, r.Records())
	}
	fmt.Fprintf(w, "  records         %d (read; other tenants and event names are skipped)\n", p.Records)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
