// Package identity is the identity-resolution stage of User360 and the home
// of unified profiles.
//
// The Processor consumes the events topic, resolves every message's
// identifiers (user_id, anonymous_id, email, phone, external ids and mapped
// traits) to one canonical profile in Redis, merges profiles when a message
// links them, applies traits (last write wins by event timestamp) and events
// (capped timeline, per-day counters), and publishes what changed to the
// profile-updates topic. One Lua script applies each message atomically
// (dedup + resolution + merge + traits + events); one call of it applies a
// run of up to 128 messages of one tenant in order, and a polled batch is
// one pipeline of such calls. Most messages are planned in Go from a cache
// of the profiles the processor wrote (profile_cache.go, speculate.go), and
// Redis only checks each plan's version token and writes. A replay into a
// new generation, which nothing else reads or writes, goes further
// (HoldWrites): the writes of exactly planned messages are held in memory
// and written as plain commands when a script needs their profiles and at
// the end (FlushHeld).
//
// The Store is the Redis materialised view other stages read (ScanProfiles,
// GetProfiles, ProfileEvents, Resolve). The Service wires the consumer and
// the HTTP APIs: the profile API (/v1/profiles/...) and the product's user
// API (/v1/users/..., /v1/events), whose writes go through the log.
//
// See docs/design/identity.md for the key layout and invariants.
package identity
