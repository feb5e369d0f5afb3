package propschema

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/user360/user360/internal/httpx"
)

func jsonMarshal(v any) (json.RawMessage, error) { return json.Marshal(v) }

const maxBody = 64 << 10

// Routes registers the schema API (API key, tenant-scoped).
func (s *Service) Routes(mux *http.ServeMux) {
	auth := func(h http.HandlerFunc) http.Handler { return httpx.RequireAPIKey(s.deps.Tenants, h) }
	mux.Handle("GET /v1/schema/properties", auth(s.listProperties))
	mux.Handle("GET /v1/schema/properties/{name}", auth(s.getProperty))
	mux.Handle("POST /v1/schema/properties", auth(s.postProperty))
	mux.Handle("GET /v1/schema/events", auth(s.listEvents))
	mux.Handle("POST /v1/schema/events", auth(s.postEvent))
	mux.Handle("DELETE /v1/schema/events/{name}", auth(s.deleteEvent))
}

// PropertyList is the body of GET /v1/schema/properties.
type PropertyList struct {
	Properties []Property `json:"properties"`
	Count      int        `json:"count"`
	Limit      int        `json:"limit"`
}

func (s *Service) listProperties(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	ps := s.v.Properties(t.ID)
	httpx.WriteJSON(w, http.StatusOK, PropertyList{Properties: ps, Count: len(ps), Limit: s.cfg.MaxProperties})
}

func (s *Service) getProperty(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	p, ok := s.v.Property(t.ID, r.PathValue("name"))
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, "notFound", "no such property", "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, p)
}

func (s *Service) postProperty(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	var in PropertyInput
	if !httpx.DecodeJSON(w, r, maxBody, &in) {
		return
	}
	p, created, err := s.PutProperty(r.Context(), t.ID, in)
	if err != nil {
		writeErr(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpx.WriteJSON(w, status, p)
}

// EventList is the body of GET /v1/schema/events.
type EventList struct {
	// AllowList is true when the tenant restricts custom event names to
	// Events.
	AllowList bool        `json:"allowList"`
	Events    []EventName `json:"events"`
	Limit     int         `json:"limit"`
}

func (s *Service) listEvents(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	es := s.v.EventNames(t.ID)
	httpx.WriteJSON(w, http.StatusOK, EventList{AllowList: len(es) > 0, Events: es, Limit: s.cfg.MaxEventNames})
}

func (s *Service) postEvent(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	var in EventNameInput
	if !httpx.DecodeJSON(w, r, maxBody, &in) {
		return
	}
	e, created, err := s.PutEventName(r.Context(), t.ID, in)
	if err != nil {
		writeErr(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpx.WriteJSON(w, status, e)
}

func (s *Service) deleteEvent(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	if err := s.DeleteEventName(r.Context(), t.ID, r.PathValue("name")); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeErr maps the sentinel errors to statuses and codes.
func writeErr(w http.ResponseWriter, err error) {
	field := ""
	var fe *FieldError
	if errors.As(err, &fe) {
		field = fe.Field
	}
	switch {
	case errors.Is(err, ErrTypeChange):
		httpx.WriteError(w, http.StatusConflict, "typeChange", err.Error(), field)
	case errors.Is(err, ErrNameConflict):
		httpx.WriteError(w, http.StatusConflict, "nameConflict", err.Error(), field)
	case errors.Is(err, ErrLimit):
		httpx.WriteError(w, http.StatusUnprocessableEntity, "limitReached", err.Error(), field)
	case errors.Is(err, ErrInvalidName), errors.Is(err, ErrInvalidType), errors.Is(err, ErrTooLong):
		httpx.WriteError(w, http.StatusBadRequest, "invalidField", err.Error(), field)
	case errors.Is(err, ErrNotFound):
		httpx.WriteError(w, http.StatusNotFound, "notFound", "no such entry", "")
	default:
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the definitions store is unavailable, retry later", "")
	}
}
