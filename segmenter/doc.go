// Package segmenter is the real-time segmenter role of User360.
//
// It consumes user360.profile-updates, re-evaluates only the segments that a
// change can affect (segments are indexed by the trait names, event names and
// segments their rules read), keeps memberships in Redis and publishes every
// entry and exit to user360.segment-changes. Changes caused by time alone
// (windows that expire, is_today, anniversaries, performed:false conditions
// that become true) fire from a Redis sorted set of per-profile deadlines.
// Segment definitions live in internal/defs (kind "segment"); a new or edited
// segment is backfilled over every profile in the background.
//
// The rule language is in package segmenter/rules and documented in
// docs/SEGMENTS.md; the storage design in docs/design/segmenter.md; the HTTP
// API in docs/API-segmenter.md.
package segmenter
