// Package replay rebuilds the derived state (identity profiles and segment
// memberships) from the Kafka events log, the source of truth.
//
// Run reads the events topic with a plain client (no consumer group) from a
// start offset per partition up to the end offsets captured when it starts,
// merges the partitions in record-timestamp order (the order the live
// pipeline saw them in), and feeds batches to an identity Processor writing
// a NEW Redis namespace (a generation); the processor's profile-update
// records go straight to a segmenter Service on the same namespace whose
// Emitter discards the changes. Nothing is published. When the replay
// reached its end offsets it switches over: it commits the replay's end
// offsets for the new generation's identity consumer group, the current end
// of the profile-updates topic for its segmenter group, then SETs the
// generation pointer key (ActivateFrom: a compare-and-set from the
// generation the replay planned from), which live processes watch. A replay
// into a new generation holds the target's lock (LockKey) for its whole run.
//
// Generations: the pointer key "<base>:generation" (default
// "u360:generation") names the active namespace of the derived state;
// absent means the base namespace "u360" (generation 1). Generation N>1 is
// "<base>g<N>". See docs/design/replay.md.
package replay
