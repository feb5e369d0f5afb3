package schemas

import "time"

// Types of ProfileUpdate records.
const (
	ProfileUpdated = "profile.updated" // a message was applied to a profile
	ProfileMerged  = "profile.merged"  // profiles were merged into one
	UserCreated    = "user.created"    // a profile was created
	UserUpdated    = "user.updated"    // a profile's traits changed
	UserDeleted    = "user.deleted"    // a profile was deleted
)

// Identity is one identifier of a profile: a type (user_id, email, phone,
// anonymous_id, whatsapp, …) and its normalised value.
type Identity struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// TraitChange is the old and new value of one trait. Old is nil for a new
// trait, New is nil for a removed one.
type TraitChange struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// EventSummary is the event that caused a profile update.
type EventSummary struct {
	Type       string         `json:"type"`
	Name       string         `json:"name,omitempty"`
	MessageID  string         `json:"messageId"`
	Properties map[string]any `json:"properties,omitempty"`
	Timestamp  time.Time      `json:"timestamp"`
}

// Merge says which profiles were absorbed into the survivor.
type Merge struct {
	Survivor string   `json:"survivor"`
	Absorbed []string `json:"absorbed"`
}

// ProfileUpdate is a record of the profile-updates topic, keyed by
// tenant + "/" + profile id. MessageID is deterministic (derived from the
// source message and the record type), so consumers can deduplicate.
// Traits holds the profile's traits after the change, so a consumer needs no
// read of the identity store to evaluate a rule.
type ProfileUpdate struct {
	Type       string                 `json:"type"`
	MessageID  string                 `json:"messageId"`
	Tenant     string                 `json:"tenant"`
	ProfileID  string                 `json:"profileId"`
	UserID     string                 `json:"userId,omitempty"`
	Identities []Identity             `json:"identities"`
	Event      *EventSummary          `json:"event,omitempty"`
	Changes    map[string]TraitChange `json:"changes,omitempty"`
	Traits     map[string]any         `json:"traits,omitempty"`
	Merge      *Merge                 `json:"merge,omitempty"`
	Timestamp  time.Time              `json:"timestamp"`
}
