package replay

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// PartitionRange is the offsets of one partition a replay reads: [Start, End).
type PartitionRange struct {
	Partition int32 `json:"partition"`
	Start     int64 `json:"start"`
	End       int64 `json:"end"`
}

// Records is the number of offsets in the range.
func (r PartitionRange) Records() int64 {
	if r.End <= r.Start {
		return 0
	}
	return r.End - r.Start
}

// Plan is what a replay does.
type Plan struct {
	Topic      string           `json:"topic"`
	Partitions []PartitionRange `json:"partitions"`
	// Records is the total of the ranges (records of other tenants and after
	// To are read and skipped, so they count).
	Records int64 `json:"records"`
	// Live is the active namespace; Target the one written (== Live with
	// IntoLive).
	Live   string `json:"live"`
	Target string `json:"target"`
	// Groups of the target generation.
	IdentityGroup  string    `json:"identityGroup"`
	SegmenterGroup string    `json:"segmenterGroup"`
	Tenant         string    `json:"tenant,omitempty"`
	From           time.Time `json:"from,omitzero"`
	To             time.Time `json:"to,omitzero"`
	Switch         bool      `json:"switch"`
	IntoLive       bool      `json:"intoLive"`
	// Segment is set for a segment backfill (Options.Segment).
	Segment *SegmentPlan `json:"segment,omitempty"`
}

// Print writes the plan for humans (the --dry-run output).
func (p Plan) Print(w io.Writer) {
	if p.Segment != nil {
		p.printSegment(w)
		return
	}
	fmt.Fprintf(w, "replay plan\n")
	fmt.Fprintf(w, "  topic           %s\n", p.Topic)
	fmt.Fprintf(w, "  live namespace  %s\n", p.Live)
	if p.IntoLive {
		fmt.Fprintf(w, "  target          %s (into the live namespace; no switch)\n", p.Target)
	} else {
		fmt.Fprintf(w, "  target          %s (groups %s, %s)\n", p.Target, p.IdentityGroup, p.SegmenterGroup)
	}
	tenant := "all"
	if p.Tenant != "" {
		tenant = p.Tenant
	}
	fmt.Fprintf(w, "  tenants         %s\n", tenant)
	printWindow(w, p.From, p.To)
	fmt.Fprintf(w, "  switch          %v\n", p.Switch)
	for _, r := range p.Partitions {
		fmt.Fprintf(w, "  partition %-4d  offsets [%d, %d)  %d records\n", r.Partition, r.Start, r.End, r.Records())
	}
	fmt.Fprintf(w, "  records         %d\n", p.Records)
}

// offsetRanges lists, per partition of topic, the start offset (the log
// start, or the first offset with a timestamp at/after from) and the end
// offset now.
func offsetRanges(ctx context.Context, cl *kgo.Client, topic string, from time.Time) ([]PartitionRange, error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("replay: list end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("replay: list end offsets: %w", err)
	}
	var starts kadm.ListedOffsets
	if from.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, topic)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, from.UnixMilli(), topic)
	}
	if err != nil {
		return nil, fmt.Errorf("replay: list start offsets: %w", err)
	}
	if err := starts.Error(); err != nil {
		return nil, fmt.Errorf("replay: list start offsets: %w", err)
	}
	parts, ok := ends[topic]
	if !ok || len(parts) == 0 {
		return nil, fmt.Errorf("replay: topic %s not found", topic)
	}
	var out []PartitionRange
	for p, e := range parts {
		r := PartitionRange{Partition: p, End: e.Offset}
		if s, ok := starts.Lookup(topic, p); ok && s.Offset >= 0 {
			r.Start = s.Offset
		} else {
			r.Start = e.Offset // no record at/after from
		}
		if r.Start > r.End {
			r.Start = r.End
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out, nil
}

// printWindow prints a plan's time window.
func printWindow(w io.Writer, fromT, toT time.Time) {
	from, to := "earliest", "end offsets at start"
	if !fromT.IsZero() {
		from = fromT.UTC().Format(time.RFC3339)
	}
	if !toT.IsZero() {
		to = toT.UTC().Format(time.RFC3339) + " (later records skipped)"
	}
	fmt.Fprintf(w, "  from            %s\n  to              %s\n", from, to)
}
