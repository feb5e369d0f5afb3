// Package activation delivers segment changes to the modules that engage
// users (campaigns, flows, bots) through webhook destinations, and exports
// segment members as CSV or NDJSON.
//
// Delivery is an outbox: the consumer of the segment-changes topic parks
// every (record, destination) pair as a job in Redis — a FIFO queue per
// destination and profile plus a sorted set of due queue heads per
// destination — and commits its offsets only once the jobs are stored. One
// dispatcher per destination claims due queue heads, POSTs them (signed with
// HMAC-SHA256), and acknowledges, retries (exponential backoff with jitter,
// Retry-After) or fails them (dead-letter topic + the destination's failures,
// replayable). A queue's later jobs wait behind its head, so a profile's exit
// never overtakes its entry, while a slow or failing destination only holds
// up its own dispatcher.
//
// See docs/design/activation.md and docs/API-activation.md.
package activation
