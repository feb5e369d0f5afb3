// Package jsonscan holds the byte-level JSON primitives that the hot paths
// share (the gateway's message splicing, the segmenter's trait lookups,
// identity's event decoding): skipping whitespace, strings and whole values
// without decoding them, and resolving string escapes. Callers that cannot
// trust their input validate it first (json.Valid) or fall back to
// encoding/json when a primitive reports malformed input.
package jsonscan
