package identity

import "errors"

// Sentinel errors.
var (
	// ErrNotFound means a reference resolves to no live profile.
	ErrNotFound = errors.New("identity: profile not found")
	// ErrBadRef means a profile reference cannot be parsed.
	ErrBadRef = errors.New("identity: invalid profile reference")
	// ErrConfig means the configuration or dependencies are invalid.
	ErrConfig = errors.New("identity: invalid configuration")
	// ErrBadMessage means an events-topic record cannot be applied.
	ErrBadMessage = errors.New("identity: invalid message")
	// ErrBadCursor means a listing cursor is not one the store returned.
	ErrBadCursor = errors.New("identity: invalid cursor")
	// ErrScript means the apply script answered something unexpected.
	ErrScript = errors.New("identity: unexpected script reply")
)
