// Package jsonscan holds the byte-level JSON primitives that the hot paths
// share (the gateway's message splicing, the segmenter's trait lookups,
// identity's event decoding): skipping whitespace, strings and whole values
// without decoding them, resolving string escapes, Valid, which answers
// as encoding/json.Valid does in about a third of its time, and
// AppendString and AppendValue, which write what encoding/json writes for a
// string or a decoded value without its reflection (AppendJSON: either, or
// encoding/json for anything else), and Floats, which turns the json.Numbers
// of a value decoded with UseNumber into float64 and names the path of one
// out of range (the user API and the segment rules). Callers that
// cannot trust their input validate it first (Valid) or fall back to
// encoding/json when a primitive reports malformed input.
package jsonscan
