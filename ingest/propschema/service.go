package propschema

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/config"
)

// Config configures the schema service.
type Config struct {
	// MaxProperties caps a tenant's properties, system ones included
	// (default 300).
	MaxProperties int
	// MaxEventNames caps a tenant's allow-list of event names (default 1000).
	MaxEventNames int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxProperties: DefaultMaxProperties, MaxEventNames: DefaultMaxEventNames}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.MaxProperties < len(systemProps) {
		return fmt.Errorf("propschema: MaxProperties %d is below the %d system properties", c.MaxProperties, len(systemProps))
	}
	if c.MaxEventNames < 1 {
		return errors.New("propschema: MaxEventNames must be at least 1")
	}
	return nil
}

// Deps are the service's dependencies.
type Deps struct {
	Tenants *config.Tenants
	// Defs is the definitions store (*defs.Store); it must be running (or
	// about to run) so that the subscription replays the log.
	Defs    Store
	Log     zerolog.Logger
	Metrics *prometheus.Registry // may be nil
	Clock   func() time.Time     // nil means time.Now
}

// Service is the property schema: the Validator and the registry API.
type Service struct {
	cfg  Config
	deps Deps
	v    *Validator
	m    *metrics
	mu   sync.Mutex // serialises this instance's check-then-write sequences
}

// New builds the service and subscribes its validator to the store.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Tenants == nil || deps.Defs == nil {
		return nil, errors.New("propschema: Tenants and Defs are required")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	s := &Service{cfg: cfg, deps: deps, m: newMetrics(deps.Metrics)}
	s.v = NewValidator(deps.Defs)
	s.v.m = s.m
	return s, nil
}

// Validator is the tenant-aware validator to hand to the gateway, the user
// API and the CSV import.
func (s *Service) Validator() *Validator { return s.v }

// Run blocks until ctx is done: the validator is fed by the store's
// subscription, there is nothing else to run.
func (s *Service) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// PropertyInput is the body of POST /v1/schema/properties.
type PropertyInput struct {
	Name        string `json:"name"`
	Type        Type   `json:"type"`
	Description string `json:"description"`
	Searchable  bool   `json:"searchable"`
}

// FieldError is a validation error naming the JSON field at fault.
type FieldError struct {
	Field string
	Err   error
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error, format string, a ...any) error {
	return &FieldError{Field: field, Err: err, Msg: fmt.Sprintf(format, a...)}
}

// PutProperty creates a property, or updates the description and the
// searchable flag of an existing one. created tells which. The type of an
// existing property never changes (ErrTypeChange).
func (s *Service) PutProperty(ctx context.Context, tenant string, in PropertyInput) (p Property, created bool, err error) {
	if in.Name == "" || len(in.Name) > MaxNameLen || !nameRE.MatchString(in.Name) {
		return p, false, fieldErr("name", ErrInvalidName, "name must be 1 to %d letters, digits or '_', not starting with a digit", MaxNameLen)
	}
	if !in.Type.Valid() {
		return p, false, fieldErr("type", ErrInvalidType, "type must be one of %s", typeList())
	}
	if utf8.RuneCountInString(in.Description) > MaxDescriptionLen {
		return p, false, fieldErr("description", ErrTooLong, "description is longer than %d characters", MaxDescriptionLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.deps.Clock().UTC()
	old, exists := s.v.Property(tenant, in.Name)
	if exists {
		if old.Type != in.Type {
			return old, false, fieldErr("type", ErrTypeChange, "property %q is of type %s; a property's type cannot change", in.Name, old.Type)
		}
		p = old
		p.Description, p.Searchable, p.UpdatedAt = in.Description, in.Searchable, now
	} else {
		if other, ok := s.v.PropertyFold(tenant, in.Name); ok {
			return other, false, fieldErr("name", ErrNameConflict, "property %q already exists; names differing only in case are not allowed", other.Name)
		}
		if n := len(systemProps) + s.v.customCount(tenant); n >= s.cfg.MaxProperties {
			return p, false, fieldErr("name", ErrLimit, "the schema already has %d properties, the limit is %d", n, s.cfg.MaxProperties)
		}
		p = Property{Name: in.Name, Type: in.Type, Description: in.Description, Searchable: in.Searchable, CreatedAt: now, UpdatedAt: now}
	}
	if err := s.deps.Defs.Put(ctx, KindProperty, tenant, p.Name, p); err != nil {
		s.m.writes.WithLabelValues(tenant, KindProperty, "error").Inc()
		return p, false, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	// Put returns once the store applied the record; its subscription may
	// still be on its way, so apply it here too (idempotent).
	if raw, err := jsonMarshal(p); err == nil {
		s.v.applyProperty(tenant, p.Name, raw)
	}
	s.m.writes.WithLabelValues(tenant, KindProperty, "ok").Inc()
	return p, !exists, nil
}

// EventNameInput is the body of POST /v1/schema/events.
type EventNameInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// PutEventName adds a name to the tenant's allow-list (or updates its
// description).
func (s *Service) PutEventName(ctx context.Context, tenant string, in EventNameInput) (e EventName, created bool, err error) {
	if strings.TrimSpace(in.Name) == "" || utf8.RuneCountInString(in.Name) > MaxStringLen || strings.ContainsFunc(in.Name, unicode.IsControl) || strings.Contains(in.Name, "/") {
		return e, false, fieldErr("name", ErrInvalidName, "name must be 1 to %d characters, without '/' or control characters", MaxStringLen)
	}
	if utf8.RuneCountInString(in.Description) > MaxDescriptionLen {
		return e, false, fieldErr("description", ErrTooLong, "description is longer than %d characters", MaxDescriptionLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sch := s.v.schema(tenant)
	old, exists := sch.events[in.Name]
	if !exists && len(sch.events) >= s.cfg.MaxEventNames {
		return e, false, fieldErr("name", ErrLimit, "the allow-list already has %d event names, the limit is %d", len(sch.events), s.cfg.MaxEventNames)
	}
	e = EventName{Name: in.Name, Description: in.Description, CreatedAt: s.deps.Clock().UTC()}
	if exists {
		e.CreatedAt = old.CreatedAt
	}
	if err := s.deps.Defs.Put(ctx, KindEventName, tenant, e.Name, e); err != nil {
		s.m.writes.WithLabelValues(tenant, KindEventName, "error").Inc()
		return e, false, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	if raw, err := jsonMarshal(e); err == nil {
		s.v.applyEventName(tenant, e.Name, raw)
	}
	s.m.writes.WithLabelValues(tenant, KindEventName, "ok").Inc()
	return e, !exists, nil
}

// DeleteEventName removes a name from the allow-list; removing the last one
// turns allow-list mode off.
func (s *Service) DeleteEventName(ctx context.Context, tenant, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.v.schema(tenant).events[name]; !ok {
		return ErrNotFound
	}
	if err := s.deps.Defs.Delete(ctx, KindEventName, tenant, name); err != nil {
		s.m.writes.WithLabelValues(tenant, KindEventName, "error").Inc()
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	s.v.applyEventName(tenant, name, nil)
	s.m.writes.WithLabelValues(tenant, KindEventName, "ok").Inc()
	return nil
}

func typeList() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
