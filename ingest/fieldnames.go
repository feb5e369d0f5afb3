package ingest

import (
	"strings"
	"unicode/utf8"
)

// The gateway reads a message's fields by their exact keys, but a consumer
// that decodes the record with encoding/json into a struct matches keys
// case-insensitively, the last match winning: {"type":"track", …,
// "TYPE":"delete"} would pass the gateway as a track and be read downstream
// as a delete. So a key that names a known field only under case folding is
// refused rather than passed on.

// messageFields are the top-level fields of a message that the gateway or a
// consumer reads: those of schemas.Event, and originalTimestamp and writeKey
// that the gateway reads itself.
var messageFields = newNameSet("type", "messageId", "userId", "anonymousId", "event", "name", "category",
	"previousId", "groupId", "traits", "properties", "context", "integrations", "timestamp", "sentAt",
	"receivedAt", "originalTimestamp", "writeKey")

// batchFields are the top-level fields of a /v1/batch body that the
// gateway reads.
var batchFields = newNameSet("batch", "context", "integrations", "sentAt", "writeKey")

// reservedContext are the context keys of the marks that identity honours
// on imports (context.user360Replace, context.user360ProfileId and
// context.user360 with mode and source); only the CSV import and the user
// API, which publish events themselves with an API key, may set them.
var reservedContext = newNameSet("user360Replace", "user360ProfileId", "user360")

// nameSet is a list of field names and the same as a set.
type nameSet struct {
	names []string
	exact map[string]bool
}

func newNameSet(names ...string) nameSet {
	s := nameSet{names: names, exact: make(map[string]bool, len(names))}
	for _, n := range names {
		s.exact[n] = true
	}
	return s
}

// fold returns the name that k equals under encoding/json's case folding
// (strings.EqualFold, the rule of bytes.EqualFold: Unicode simple folding,
// so "ſentAt" with a long s is sentAt and "write\u212aey" with a Kelvin
// sign is writeKey), or "".
func (s nameSet) fold(k string) string {
	if s.exact[k] {
		return k
	}
	for _, n := range s.names {
		if strings.EqualFold(k, n) {
			return n
		}
	}
	return ""
}

// checkAmbiguous refuses the first key of fs that is a known name only
// under case folding.
func checkAmbiguous(fs fields, known nameSet) *fieldError {
	for _, f := range fs {
		if n := known.fold(f.key); n != "" && n != f.key {
			return reject("ambiguous_field", f.key, "differs from the field %q only in letter case; send it as %q", n, n)
		}
	}
	return nil
}

// checkReserved refuses a message whose context (after the batch context
// was merged in) carries an import mark. Case variants are refused too, so
// that no decoder matching keys loosely can ever read one.
func checkReserved(m fields) *fieldError {
	raw := m.get("context")
	if raw == nil {
		return nil
	}
	ctx, err := splitObject(raw)
	if err != nil {
		return reject("invalid_type", "context", "must be an object")
	}
	for _, f := range ctx {
		if reservedContext.fold(f.key) != "" {
			return reject("reserved_field", "context."+f.key, "reserved for imports (CSV import, user API); the tracking API cannot set it")
		}
	}
	return nil
}

// idField reads an optional identifier (userId, anonymousId, previousId,
// groupId, messageId). One that is not valid UTF-8 is refused: its raw
// bytes would key the record while the value carries U+FFFD in their
// place, so different ids would become one user downstream.
func idField(m fields, name string) (string, *fieldError) {
	id, err := optID(m.get(name))
	if err != nil {
		return "", reject("invalid_type", name, "%v", err)
	}
	if !utf8.ValidString(id) {
		return "", reject("invalid_value", name, "is not valid UTF-8")
	}
	return id, nil
}
