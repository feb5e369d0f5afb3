package propschema

import (
	"errors"
	"time"
)

// Type is the data type of a property.
type Type string

// Property types.
const (
	TypeString   Type = "string"
	TypeNumber   Type = "number"
	TypeBoolean  Type = "boolean"
	TypeDate     Type = "date"     // YYYY-MM-DD
	TypeDatetime Type = "datetime" // RFC 3339, stored in UTC
	TypeTime     Type = "time"     // hh:mm:ss
	TypeList     Type = "list"     // list of strings
	TypeEmail    Type = "email"
	TypePhone    Type = "phone" // stored in E.164
	TypeURL      Type = "url"
)

// Types lists every property type.
var Types = []Type{TypeString, TypeNumber, TypeBoolean, TypeDate, TypeDatetime, TypeTime, TypeList, TypeEmail, TypePhone, TypeURL}

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Limits.
const (
	// MaxStringLen caps string values (and list items, emails, phones) in
	// characters (Unicode code points).
	MaxStringLen = 255
	// MaxURLLen caps url values: URLs with tracking parameters are often
	// longer than a plain string.
	MaxURLLen = 2048
	// DefaultMaxProperties is the per-tenant property limit, system
	// properties included.
	DefaultMaxProperties = 300
	// DefaultMaxEventNames caps the allow-list of event names.
	DefaultMaxEventNames = 1000
	// MaxNameLen caps property and event names.
	MaxNameLen = 64
	// MaxDescriptionLen caps descriptions.
	MaxDescriptionLen = 1000
)

// Kinds of internal/defs entries this package owns.
const (
	KindProperty  = "property"
	KindEventName = "eventName"
)

// Property is one property of the schema.
type Property struct {
	Name        string    `json:"name"`
	Type        Type      `json:"type"`
	Description string    `json:"description,omitempty"`
	Searchable  bool      `json:"searchable"`
	System      bool      `json:"system"`
	CreatedAt   time.Time `json:"createdAt,omitzero"`
	UpdatedAt   time.Time `json:"updatedAt,omitzero"`
}

// EventName is an entry of a tenant's allow-list of custom event names.
type EventName struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt,omitzero"`
}

// Problem codes.
const (
	// CodeInvalidDataType: the value cannot be coerced to the property type.
	CodeInvalidDataType = "invalidDataType"
	// CodeInvalidProperty: the trait is not in the schema and the tenant is
	// in strict mode.
	CodeInvalidProperty = "invalidProperty"
	// CodeValueTooLong: a string is longer than MaxStringLen characters.
	CodeValueTooLong = "valueTooLong"
)

// Problem is why one value was dropped. Field is the trait name (list items
// add an index, "tags[2]"); callers prefix it with their own path
// ("traits.", "batch[3].traits.").
type Problem struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Sentinel errors of the registry API.
var (
	ErrInvalidName      = errors.New("propschema: invalid name")
	ErrInvalidType      = errors.New("propschema: invalid type")
	ErrTypeChange       = errors.New("propschema: a property's type cannot change")
	ErrNameConflict     = errors.New("propschema: a property with the same name in another case exists")
	ErrLimit            = errors.New("propschema: limit reached")
	ErrTooLong          = errors.New("propschema: value too long")
	ErrNotFound         = errors.New("propschema: not found")
	ErrStoreUnavailable = errors.New("propschema: the definitions store is unavailable")
)
