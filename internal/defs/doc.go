// Package defs keeps the definitions that users create through the APIs
// (segments, destinations, property schemas) on a compacted Kafka topic, the
// source of truth, and caches them in memory in every process that tails it.
//
// Record key: "<tenant>/<kind>/<id>"; value: the definition's JSON; a
// tombstone (nil value) deletes. Headers carry user360-tenant and
// user360-kind. Put and Delete return only after the broker acknowledged the
// record and the local cache applied it, so a caller reads its own writes;
// other instances see it within one fetch wait (about 100 ms).
//
// Concurrency: one goroutine (Run) applies records in log order; readers
// take a read lock; Subscribe callbacks run on the Run goroutine, in log
// order, never concurrently with each other.
package defs
