// Package redisx connects to Redis: a standalone server or a Redis Cluster
// from a URL, or an embedded in-process server (miniredis) for `user360 dev`
// on a machine with nothing installed; splits batches into runs of one
// hash slot for batched script calls (Runs); and pages sorted sets with a
// stable cursor (ZPage).
package redisx
