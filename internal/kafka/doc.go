// Package kafka is the shared Kafka plumbing of User360, built on franz-go:
// client construction (idempotent producer, acks from all replicas), topic
// creation, the embedded Kafka-protocol broker of `user360 dev` (kfake), and
// a commit-after-processing consumer loop that every consuming stage uses:
// one-stage (Handler) or staged (StagedHandler: the next batch is applied
// while earlier ones finish, in order; finisher.go).
package kafka
