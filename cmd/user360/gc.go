package main

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target for a command when GOGC is
// not set. The pipeline's roles allocate a few KB a message and keep
// little, so the collector's work grows with how often it runs: at Go's
// default (100) the identity role spent about a sixth of its CPU on it.
// The long-running servers (dev, serve) use 400: at full speed `user360
// dev` used 8 % less CPU an event than at 200 and pushed 5–10 % more
// events through, at 5,000 events/s 2 % less, with the same latency, for a
// peak RSS of about 0.5 GB instead of 0.3 (docs/BENCHMARKS.md, "Eighth
// session"). The other commands keep 200: import has a memory target, and
// replay holds large buffers already. GOGC in the environment (GOGC=100
// restores Go's default) and GOMEMLIMIT still apply.
func gcPercent(command string) int {
	switch command {
	case "dev", "serve":
		return 400
	}
	return 200
}

// tuneGC sets gcPercent(command) unless GOGC is set.
func tuneGC(command string) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent(command))
	}
}
