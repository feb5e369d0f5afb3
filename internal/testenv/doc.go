// Package testenv gives tests the real servers they run against: the Redis
// server of the machine (USER360_TEST_REDIS_URL, default
// redis://127.0.0.1:6379/0), an embedded miniredis, and an embedded
// Kafka-protocol broker. A test that needs a server which does not answer
// fails; it is never skipped.
//
// Tests never flush a Redis database: each gets its own key namespace
// (Namespace), so packages can run their tests in parallel on one server.
package testenv
