// Command user360 is the one binary of User360.
//
//	user360 dev      every role in one process, on an embedded Kafka-protocol
//	                 broker and (without USER360_REDIS_URL) an embedded Redis
//	user360 serve    chosen roles (--roles ingest,identity,segmenter,activation)
//	                 against real Kafka and Redis
//	user360 import   upload a CSV of users to a running server
//	user360 replay   rebuild profiles and segments from the log into a new
//	                 generation and switch over
//	user360 load     the load tool (gateway, or gateway → segment.entered)
//	user360 version  print the version
//
// Files: main.go (subcommands), dev.go, serve.go, stack.go (wiring of the
// roles and the ordered shutdown), roles.go (which stages a role runs),
// generation.go (following the active generation), ops.go (health,
// readiness, metrics), import.go, replay.go, load.go, pprof.go, gc.go
// (the garbage collector's default target).
package main
