package schemas

import "time"

// TraitMeta says how a trait is typed and when it was last written (by the
// event timestamp that won last-write-wins).
type TraitMeta struct {
	Type      string    `json:"type"` // string number boolean date datetime list object null
	UpdatedAt time.Time `json:"updatedAt"`
}

// Profile is the unified profile of one person as the APIs show it and as
// other stages read it from the identity store.
type Profile struct {
	ID         string               `json:"id"`
	Tenant     string               `json:"tenant"`
	UserID     string               `json:"userId,omitempty"`
	Identities []Identity           `json:"identities"`
	Traits     map[string]any       `json:"traits"`
	TraitMeta  map[string]TraitMeta `json:"traitMeta,omitempty"`
	CreatedAt  time.Time            `json:"createdAt"`
	UpdatedAt  time.Time            `json:"updatedAt"`
	LastSeenAt time.Time            `json:"lastSeenAt"`
	MergedFrom []string             `json:"mergedFrom,omitempty"`
	Segments   []string             `json:"segments,omitempty"`
}

// ProfileEvents is the event state the identity store keeps per profile: a
// capped recent timeline and per-event-name daily counts (day in UTC,
// "2006-01-02") over the configured lookback.
type ProfileEvents struct {
	Recent      []EventSummary              `json:"recent"`
	DailyCounts map[string]map[string]int64 `json:"dailyCounts"`
}
