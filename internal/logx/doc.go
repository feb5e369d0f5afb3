// Package logx builds the zerolog logger: JSON lines on stderr, quiet (info
// and above, and nothing per request) when all is well.
package logx
