package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's target when GOGC is not set:
// the pipeline's roles allocate a few KB a message and keep little, so
// collecting at 100 % growth cost the identity role about a sixth of its
// CPU; at 200 % its Go CPU a message fell by 5–25 % (docs/BENCHMARKS.md)
// for a larger heap. GOGC in the environment (GOGC=100 restores Go's
// default) and GOMEMLIMIT still apply.
const defaultGCPercent = 200

// tuneGC sets defaultGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
