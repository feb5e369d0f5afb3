package ingest

import (
	"errors"
	"time"
)

// Config is the gateway's configuration.
type Config struct {
	// MaxMessageBytes caps one message (default 32 KiB, as Segment).
	MaxMessageBytes int
	// MaxRequestBytes caps a decoded request body (default 500 KiB). The
	// body as sent (gzipped) is capped a little above it (maxWireBytes).
	MaxRequestBytes int
	// SkewTolerance: the clock-skew correction timestamp = receivedAt −
	// (sentAt − timestamp) is applied when sentAt is ahead of receivedAt, or
	// behind it by at most this much (default 5s). SDKs resend the same
	// bytes with a stale sentAt when they retry; correcting those would
	// shift events late by the retry delay.
	SkewTolerance time.Duration
	// MaxInFlight bounds the requests being produced at once; beyond it the
	// gateway answers 429 with Retry-After (default 4096).
	MaxInFlight int
	// RetryAfter is the Retry-After of 429 and 503 answers (default 2s).
	RetryAfter time.Duration
	// ProduceTimeout bounds the wait for the broker's acknowledgement
	// before answering 503 (default 10s).
	ProduceTimeout time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxMessageBytes: 32 << 10,
		MaxRequestBytes: 500 << 10,
		SkewTolerance:   5 * time.Second,
		MaxInFlight:     4096,
		RetryAfter:      2 * time.Second,
		ProduceTimeout:  10 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.MaxMessageBytes <= 0:
		return errors.New("ingest: MaxMessageBytes must be positive")
	case c.MaxRequestBytes < c.MaxMessageBytes:
		return errors.New("ingest: MaxRequestBytes must be at least MaxMessageBytes")
	case c.SkewTolerance < 0:
		return errors.New("ingest: SkewTolerance must not be negative")
	case c.MaxInFlight <= 0:
		return errors.New("ingest: MaxInFlight must be positive")
	case c.RetryAfter <= 0 || c.ProduceTimeout <= 0:
		return errors.New("ingest: RetryAfter and ProduceTimeout must be positive")
	}
	return nil
}

// maxWireBytes caps a request body as sent, before decompression. Gzip
// grows JSON by at most its header and trailer and 5 bytes per 64 KiB
// stored block, so MaxRequestBytes plus a margin never refuses a body whose
// decoded size passes, while a body of empty gzip members (which decodes to
// nothing) can no longer be read without end.
func (c Config) maxWireBytes() int {
	return c.MaxRequestBytes + c.MaxRequestBytes/64 + 4096
}
