package identity

import "runtime"

// cpuGate bounds how many of a processor's CPU-bound steps, preparing a
// chunk (decode, plan, encode) and building its records, run at once: one
// less than GOMAXPROCS, at least one. The apply goroutine, which sends a
// chunk to Redis and waits for the reply, is then never kept from a P by
// them when the reply arrives, so Redis is not left waiting for the next
// chunk (on two cores both Ps were often taken by preparing and building
// goroutines, and the apply goroutine waited runnable, not running, for a
// tenth of the time: see docs/BENCHMARKS.md, "Twelfth session"). On larger
// machines a processor's few such goroutines never fill the gate.
//
// A holder never waits for anything while holding its slot (enter, the
// step, leave), so the gate cannot deadlock.
type cpuGate chan struct{}

func newCPUGate() cpuGate { return make(cpuGate, max(1, runtime.GOMAXPROCS(0)-1)) }

// enter takes a slot, waiting for one if all are held.
func (g cpuGate) enter() { g <- struct{}{} }

// leave gives the slot back.
func (g cpuGate) leave() { <-g }
