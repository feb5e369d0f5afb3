// Package propschema is the user property schema of a tenant: which traits a
// profile has, of which type, and how incoming values are coerced and
// validated before they reach the log.
//
// Definitions (custom properties and the optional allow-list of event names)
// are durable entries of internal/defs (kinds "property" and "eventName"),
// so every process sees every change within a second. The Validator keeps
// an in-memory, copy-on-write snapshot per tenant built from a defs
// subscription: Apply is pure, allocation-light and does no I/O, so the
// gateway can call it on every identify.
//
// The system properties (userId, firstName, email, dob, tags, createdAt, …)
// are predefined for every tenant; see SystemProperties.
//
// The HTTP API (GET/POST /v1/schema/properties, GET/POST/DELETE
// /v1/schema/events) is registered by (*Service).Routes; see
// docs/API-import.md.
package propschema
