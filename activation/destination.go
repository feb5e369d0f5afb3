package activation

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Destination types and payload formats.
const (
	TypeWebhook   = "webhook"
	FormatUser360 = "user360"
	FormatSegment = "segment"
)

// Destination is a webhook that receives a tenant's segment changes. It is
// stored in internal/defs (kind "destination") with its secret.
type Destination struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
	// Segments lists segment ids; AllSegments matches every segment (the
	// API's "segments": "all").
	Segments    []string `json:"segments,omitempty"`
	AllSegments bool     `json:"allSegments,omitempty"`
	Events      []string `json:"events"`
	Format      string   `json:"format"`
	// MaxAgeSeconds overrides Config.MaxAge for this destination.
	MaxAgeSeconds int64     `json:"maxAgeSeconds,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// matches says whether a change of this type and segment goes to d.
func (d *Destination) matches(typ, segmentID string) bool {
	if !slices.Contains(d.Events, typ) {
		return false
	}
	return d.AllSegments || slices.Contains(d.Segments, segmentID)
}

func (d *Destination) maxAge(def time.Duration) time.Duration {
	if d.MaxAgeSeconds > 0 {
		return time.Duration(d.MaxAgeSeconds) * time.Second
	}
	return def
}

// DestinationView is a destination as the API shows it: never the secret.
type DestinationView struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Type          string    `json:"type"`
	URL           string    `json:"url"`
	Segments      any       `json:"segments"` // []string or "all"
	Events        []string  `json:"events"`
	Format        string    `json:"format"`
	MaxAgeSeconds int64     `json:"maxAgeSeconds,omitempty"`
	HasSecret     bool      `json:"hasSecret"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// View returns the public form of d.
func (d *Destination) View() DestinationView {
	v := DestinationView{
		ID: d.ID, Name: d.Name, Type: d.Type, URL: d.URL, Events: d.Events, Format: d.Format,
		MaxAgeSeconds: d.MaxAgeSeconds, HasSecret: d.Secret != "", CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if d.AllSegments {
		v.Segments = "all"
	} else {
		v.Segments = d.Segments
	}
	return v
}

// DestinationInput is the body of POST and PUT /v1/destinations.
type DestinationInput struct {
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	URL           string          `json:"url"`
	Secret        string          `json:"secret"`
	Segments      json.RawMessage `json:"segments"`
	Events        []string        `json:"events"`
	Format        string          `json:"format"`
	MaxAgeSeconds int64           `json:"maxAgeSeconds"`
}

// FieldError is a validation error that names the field at fault as a JSON
// path.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes every FieldError an ErrInvalidDestination.
func (e *FieldError) Unwrap() error { return ErrInvalidDestination }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

const (
	maxNameLen   = 200
	maxURLLen    = 2048
	maxSegments  = 1000
	maxSecretLen = 256
)

// toDestination validates the input and builds a destination (without ID,
// tenant and times). The URL's host is checked by the caller.
func (in *DestinationInput) toDestination() (*Destination, error) {
	d := &Destination{Name: strings.TrimSpace(in.Name), Type: in.Type, URL: strings.TrimSpace(in.URL), Secret: in.Secret, Format: in.Format, MaxAgeSeconds: in.MaxAgeSeconds}
	if d.Name == "" || utf8.RuneCountInString(d.Name) > maxNameLen {
		return nil, fieldErr("name", "is required (at most %d characters)", maxNameLen)
	}
	if d.Type == "" {
		d.Type = TypeWebhook
	}
	if d.Type != TypeWebhook {
		return nil, fieldErr("type", "must be %q", TypeWebhook)
	}
	if d.URL == "" || len(d.URL) > maxURLLen {
		return nil, fieldErr("url", "is required (at most %d characters)", maxURLLen)
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return nil, fieldErr("url", "is not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fieldErr("url", "must use http or https")
	}
	if u.Hostname() == "" {
		return nil, fieldErr("url", "has no host")
	}
	if u.User != nil {
		return nil, fieldErr("url", "must not carry credentials; use the secret")
	}
	if err := checkPort(u.Port()); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(d.Secret) > maxSecretLen {
		return nil, fieldErr("secret", "is longer than %d characters", maxSecretLen)
	}
	seg := bytes.TrimSpace(in.Segments)
	switch {
	case len(seg) == 0 || string(seg) == "null":
		return nil, fieldErr("segments", `is required: a list of segment ids or "all"`)
	case seg[0] == '"':
		var s string
		if err := json.Unmarshal(seg, &s); err != nil || s != "all" {
			return nil, fieldErr("segments", `must be a list of segment ids or "all"`)
		}
		d.AllSegments = true
	default:
		var ids []any
		if err := json.Unmarshal(seg, &ids); err != nil {
			return nil, fieldErr("segments", `must be a list of segment ids or "all"`)
		}
		if len(ids) == 0 || len(ids) > maxSegments {
			return nil, fieldErr("segments", "must list 1 to %d segment ids", maxSegments)
		}
		for i, v := range ids {
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, fieldErr(fmt.Sprintf("segments[%d]", i), "must be a non-empty string")
			}
			if !slices.Contains(d.Segments, s) {
				d.Segments = append(d.Segments, s)
			}
		}
	}
	if len(in.Events) == 0 {
		d.Events = []string{"segment.entered", "segment.exited"}
	}
	for i, e := range in.Events {
		if e != "segment.entered" && e != "segment.exited" {
			return nil, fieldErr(fmt.Sprintf("events[%d]", i), `must be "segment.entered" or "segment.exited"`)
		}
		if !slices.Contains(d.Events, e) {
			d.Events = append(d.Events, e)
		}
	}
	if d.Format == "" {
		d.Format = FormatUser360
	}
	if d.Format != FormatUser360 && d.Format != FormatSegment {
		return nil, fieldErr("format", `must be "user360" or "segment"`)
	}
	if d.MaxAgeSeconds < 0 || d.MaxAgeSeconds > 7*24*3600 {
		return nil, fieldErr("maxAgeSeconds", "must be 0 (default) to 604800")
	}
	return d, nil
}

// checkPort refuses a URL port outside 1-65535 ("" is the scheme's
// default port).
func checkPort(port string) error {
	if port == "" {
		return nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fieldErr("url", "port %q must be a number from 1 to 65535", port)
	}
	return nil
}

// newSecret returns a random signing secret.
func newSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

// newID returns a destination id.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "dst_" + hex.EncodeToString(b)
}
