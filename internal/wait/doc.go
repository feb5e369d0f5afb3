// Package wait holds the one sleep that retry loops and pacers share: it
// ends early when the context does, so no loop outlives its caller.
package wait
