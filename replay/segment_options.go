package replay

import (
	"fmt"
	"time"
)

// validateSegment refuses the options a segment backfill (Options.Segment)
// cannot honour; defaults are already filled.
func (o *Options) validateSegment() error {
	switch {
	case o.Tenant == "":
		return fmt.Errorf("%w: --segment needs --tenant: a segment id belongs to one tenant", ErrOptions)
	case o.IntoLive:
		return fmt.Errorf("%w: --segment always writes the live namespace; --into-live is not needed (and re-applies every record)", ErrOptions)
	case o.NoSwitch || o.Target != "":
		return fmt.Errorf("%w: --segment builds no generation; --no-switch and --target do not apply", ErrOptions)
	case o.Resume:
		return fmt.Errorf("%w: --segment is idempotent: run it again instead of --resume", ErrOptions)
	}
	if _, ok := o.Tenants.Get(o.Tenant); !ok {
		return fmt.Errorf("%w: unknown tenant %q", ErrOptions, o.Tenant)
	}
	if !o.To.IsZero() && !o.From.IsZero() && !o.To.After(o.From) {
		return fmt.Errorf("%w: --to %s is not after --from %s", ErrOptions, o.To.Format(time.RFC3339), o.From.Format(time.RFC3339))
	}
	return nil
}
