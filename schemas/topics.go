package schemas

import "strings"

// Topic suffixes; a deployment prefixes them (default prefix "user360.").
const (
	TopicEvents         = "events"
	TopicProfileUpdates = "profile-updates"
	TopicSegmentChanges = "segment-changes"
	TopicDeadLetter     = "deadletter"
	TopicDefinitions    = "definitions"
)

// DefaultTopicPrefix is the prefix used when none is configured.
const DefaultTopicPrefix = "user360."

// Record headers shared by every topic.
const (
	HeaderTenant      = "user360-tenant"
	HeaderSchema      = "user360-schema"
	HeaderSource      = "user360-source"
	HeaderContentType = "content-type"
)

// Schema names written to HeaderSchema.
const (
	SchemaEvent         = "event/v1"
	SchemaProfileUpdate = "profile-update/v1"
	SchemaSegmentChange = "segment-change/v1"
	SchemaDeadLetter    = "deadletter/v1"
)

// Topics names every topic of one deployment.
type Topics struct {
	Events         string
	ProfileUpdates string
	SegmentChanges string
	DeadLetter     string
	// Definitions is a compacted topic of configuration that users create
	// through the APIs (segments, destinations, property schemas); see
	// internal/defs.
	Definitions string
}

// NewTopics returns the topic names for a prefix ("" means DefaultTopicPrefix).
func NewTopics(prefix string) Topics {
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	return Topics{
		Events:         prefix + TopicEvents,
		ProfileUpdates: prefix + TopicProfileUpdates,
		SegmentChanges: prefix + TopicSegmentChanges,
		DeadLetter:     prefix + TopicDeadLetter,
		Definitions:    prefix + TopicDefinitions,
	}
}

// All lists the topic names.
func (t Topics) All() []string {
	return []string{t.Events, t.ProfileUpdates, t.SegmentChanges, t.DeadLetter, t.Definitions}
}

// Key builds a record key: tenant, "/", then the entity id (a user id, an
// anonymous id or a profile id). Records with one key stay in one partition,
// so one user's messages keep their order.
func Key(tenant, id string) []byte {
	b := make([]byte, 0, len(tenant)+1+len(id))
	b = append(b, tenant...)
	b = append(b, '/')
	b = append(b, id...)
	return b
}

// SplitKey is the inverse of Key. ok is false when the key has no "/".
func SplitKey(key []byte) (tenant, id string, ok bool) {
	s := string(key)
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}
