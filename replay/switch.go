package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/user360/user360/identity"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/schemas"
	"github.com/user360/user360/segmenter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// commitGroup commits offsets for a group that has no members (the new
// generation's group, which nothing consumes yet).
func commitGroup(ctx context.Context, cl *kgo.Client, group, topic string, at map[int32]int64) error {
	var os kadm.Offsets
	for p, o := range at {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	resp, err := kadm.NewClient(cl).CommitOffsets(ctx, group, os)
	if err != nil {
		return fmt.Errorf("replay: commit %s offsets of %s: %w", topic, group, err)
	}
	if err := resp.Error(); err != nil {
		return fmt.Errorf("replay: commit %s offsets of %s: %w", topic, group, err)
	}
	return nil
}

// endOffsets lists the end offsets of a topic now.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("replay: list end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("replay: list end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	for p, o := range ends[topic] {
		out[p] = o.Offset
	}
	return out, nil
}

// commitIdentity commits the replay's end offsets for the target
// generation's identity group: its consumers start where the replay ended,
// whenever the generation is activated.
func (r *runner) commitIdentity(ctx context.Context) error {
	ev := map[int32]int64{}
	for _, pr := range r.plan.Partitions {
		ev[pr.Partition] = pr.End
	}
	return commitGroup(ctx, r.cl, r.plan.IdentityGroup, r.o.Topics.Events, ev)
}

// activate hands the generation to the live consumers: a segmenter group
// without offsets starts at the end of the profile-updates topic now (the
// new identity group regenerates every update after the replay's end); a
// group with offsets (switching back to an older generation) resumes where
// it stopped. Then the pointer, only if it still names from.
func activate(ctx context.Context, cl *kgo.Client, o *Options, segGroup, from, target string) error {
	has, err := hasOffsets(ctx, cl, segGroup, o.Topics.ProfileUpdates)
	if err != nil {
		return err
	}
	if !has {
		pu, err := endOffsets(ctx, cl, o.Topics.ProfileUpdates)
		if err != nil {
			return err
		}
		if err := commitGroup(ctx, cl, segGroup, o.Topics.ProfileUpdates, pu); err != nil {
			return err
		}
	}
	return ActivateFrom(ctx, o.Redis, o.Base, from, target)
}

// SwitchTo activates a generation that an earlier replay built with
// NoSwitch (o.Target names it; o's Kafka, Topics, Redis, Base and group
// names are used). It refuses a generation whose identity group has no
// committed offsets (not built by a replay): its consumers would start
// from the beginning of the log, and one a replay is building (its lock is
// held). The pointer is set only if it still names the generation active
// when SwitchTo started.
func SwitchTo(ctx context.Context, o Options) error {
	if o.Redis == nil {
		return fmt.Errorf("%w: Redis is required", ErrOptions)
	}
	if err := o.Kafka.Validate(); err != nil {
		return fmt.Errorf("%w: Kafka: %w", ErrOptions, err)
	}
	if o.Topics.Events == "" {
		o.Topics = schemas.NewTopics("")
	}
	if o.Base == "" {
		o.Base = DefaultBase
	}
	if GenerationNumber(o.Base, o.Target) < 1 {
		return fmt.Errorf("%w: %q is not a generation of %q", ErrBadGeneration, o.Target, o.Base)
	}
	if err := checkUnlocked(ctx, o.Redis, o.Base, o.Target); err != nil {
		return err
	}
	from, err := ActiveNamespace(ctx, o.Redis, o.Base)
	if err != nil {
		return err
	}
	cl, err := kafka.NewClient(o.Kafka)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer cl.Close()
	idGroup := GroupFor(orDefault(o.Identity.Group, identity.DefaultConfig().Group), o.Base, o.Target)
	segGroup := GroupFor(orDefault(o.Segmenter.Group, segmenter.DefaultConfig().Group), o.Base, o.Target)
	if GenerationNumber(o.Base, o.Target) > 1 {
		has, err := hasOffsets(ctx, cl, idGroup, o.Topics.Events)
		if err != nil {
			return err
		}
		if !has {
			return fmt.Errorf("%w: %s has no committed offsets on %s: %s was not built by a replay", ErrOptions, idGroup, o.Topics.Events, o.Target)
		}
	}
	return activate(ctx, cl, &o, segGroup, from, o.Target)
}

// hasOffsets says whether a group committed offsets on a topic.
func hasOffsets(ctx context.Context, cl *kgo.Client, group, topic string) (bool, error) {
	got, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replay: fetch offsets of %s: %w", group, err)
	}
	_, ok := got[topic]
	return ok, nil
}
