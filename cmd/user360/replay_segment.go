package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/user360/user360/replay"
)

// checkSegment refuses --segment combinations that are wrong whatever the
// servers hold (the replay package checks the rest, e.g. that the segment
// exists).
func (f *replayFlags) checkSegment() error {
	if f.segment == "" {
		return nil
	}
	switch {
	case f.tenant == "":
		return errors.New("--segment needs --tenant: a segment id belongs to one tenant")
	case f.switchTo != "":
		return errors.New("--segment and --switch-to do not go together: a segment backfill writes the live generation and switches nothing")
	case f.intoLive:
		return errors.New("--segment always writes the live namespace; drop --into-live (it would re-apply every record)")
	case f.noSwitch || f.target != "":
		return errors.New("--segment builds no generation; --no-switch and --target do not apply")
	case f.resume:
		return errors.New("--segment is idempotent: run it again instead of --resume")
	}
	return nil
}

// printSegmentResult summarises a finished segment backfill.
func printSegmentResult(w io.Writer, res replay.Result) {
	s, p := res.Segment, res.Plan.Segment
	fmt.Fprintf(w, "read %d records in %s (%.0f records/s): %d matched segment %s, %d unresolved\n",
		res.Read, res.Duration.Round(time.Millisecond), res.Rate(), s.Matched, p.ID, s.Unresolved)
	fmt.Fprintf(w, "rebuilt %d profiles in %s (%d states written, %d skipped): %d entered, %d exited, %d changes published (cause %s)\n",
		s.Profiles, res.Plan.Live, s.Written, s.Skipped, s.Entered, s.Exited, s.Published, p.Cause)
	if !p.Emit {
		fmt.Fprintln(w, "emitOnBackfill is false: memberships were stored, not published")
	}
}
