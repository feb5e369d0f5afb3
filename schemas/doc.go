// Package schemas holds the wire messages of User360's Kafka topics: a Go type,
// a JSON Schema (embedded, see Schema) and golden test vectors for each.
//
// Topics (names take a configurable prefix, default "user360."):
//
//	events           Segment-spec messages from the gateway and connectors (Event)
//	profile-updates  what identity resolution changed (ProfileUpdate)
//	segment-changes  segment entries and exits (SegmentChange)
//	deadletter       rejected input with its reason (DeadLetter)
//
// Every record carries the header "user360-tenant" and a key that starts with
// the tenant id followed by "/" (see Key).
package schemas
