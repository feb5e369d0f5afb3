// Package loadgen is the project's load tool (`user360 load`): it posts
// Segment-spec traffic to a gateway over N keep-alive connections for a fixed
// time and reports throughput and latency percentiles. It targets only the
// URL it is given (a local gateway); its loops are bounded by time.
package loadgen
