// Package engagement is an example downstream module (a campaign or flow
// engine) written the way a third party would write one: with
// github.com/segmentio/kafka-go, in its own consumer group on the
// user360.segment-changes topic, with no User360 code.
//
// Records are keyed "<tenant>/<profileId>", so one profile's entries and
// exits arrive in order. Offsets are committed after the callback returns
// nil (at-least-once); a callback deduplicates with Change.MessageID, which
// is deterministic.
package engagement
