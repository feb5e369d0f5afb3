package activation

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/user360/user360/internal/httpx"
)

const maxBody = 1 << 20

// Routes registers the HTTP API (API key, tenant-scoped).
func (s *Service) Routes(mux *http.ServeMux) {
	auth := func(h http.HandlerFunc) http.Handler { return httpx.RequireAPIKey(s.deps.Tenants, h) }
	mux.Handle("POST /v1/destinations", auth(s.createDestination))
	mux.Handle("GET /v1/destinations", auth(s.listDestinations))
	mux.Handle("GET /v1/destinations/{id}", auth(s.getDestination))
	mux.Handle("PUT /v1/destinations/{id}", auth(s.putDestination))
	mux.Handle("DELETE /v1/destinations/{id}", auth(s.deleteDestination))
	mux.Handle("GET /v1/destinations/{id}/stats", auth(s.getStats))
	mux.Handle("GET /v1/destinations/{id}/failures", auth(s.listFailures))
	mux.Handle("POST /v1/destinations/{id}/failures/replay", auth(s.replayFailures))
	mux.Handle("GET /v1/segments/{id}/export", auth(s.export))
}

// createdDestination is the answer to POST: the view plus the secret, the
// only time it is shown.
type createdDestination struct {
	DestinationView
	Secret string `json:"secret"`
}

func writeValidation(w http.ResponseWriter, err error) {
	var fe *FieldError
	if errors.As(err, &fe) {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_destination", fe.Msg, fe.Field)
		return
	}
	httpx.WriteError(w, http.StatusBadRequest, "invalid_destination", err.Error(), "")
}

func (s *Service) readInput(w http.ResponseWriter, r *http.Request) (*Destination, bool) {
	var in DestinationInput
	if !httpx.DecodeJSON(w, r, maxBody, &in) {
		return nil, false
	}
	d, err := in.toDestination()
	if err != nil {
		writeValidation(w, err)
		return nil, false
	}
	t := httpx.TenantFrom(r.Context())
	if err := checkURLHost(r.Context(), d.URL, t.AllowPrivateWebhooks); err != nil {
		writeValidation(w, err)
		return nil, false
	}
	return d, true
}

func (s *Service) createDestination(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	d, ok := s.readInput(w, r)
	if !ok {
		return
	}
	d.ID, d.Tenant = newID(), t.ID
	d.CreatedAt = s.now().UTC()
	d.UpdatedAt = d.CreatedAt
	if d.Secret == "" {
		d.Secret = newSecret()
	}
	if err := s.deps.Defs.Put(r.Context(), KindDestination, t.ID, d.ID, d); err != nil {
		s.log.Error().Err(err).Msg("store destination")
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the definition log is unavailable; retry", "")
		return
	}
	w.Header().Set("Location", "/v1/destinations/"+d.ID)
	httpx.WriteJSON(w, http.StatusCreated, createdDestination{DestinationView: d.View(), Secret: d.Secret})
}

// load reads a tenant's destination from the definitions.
func (s *Service) load(tenant, id string) (*Destination, bool) {
	raw, ok := s.deps.Defs.Get(KindDestination, tenant, id)
	if !ok {
		return nil, false
	}
	d := new(Destination)
	if err := json.Unmarshal(raw, d); err != nil {
		return nil, false
	}
	d.Tenant, d.ID = tenant, id
	return d, true
}

func (s *Service) loadOr404(w http.ResponseWriter, r *http.Request) (*Destination, bool) {
	t := httpx.TenantFrom(r.Context())
	d, ok := s.load(t.ID, r.PathValue("id"))
	if !ok {
		httpx.WriteError(w, http.StatusNotFound, "not_found", "no destination with this id", "id")
	}
	return d, ok
}

func (s *Service) listDestinations(w http.ResponseWriter, r *http.Request) {
	t := httpx.TenantFrom(r.Context())
	out := []DestinationView{}
	for _, e := range s.deps.Defs.List(KindDestination, t.ID) {
		if d, ok := s.load(t.ID, e.ID); ok {
			out = append(out, d.View())
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"destinations": out})
}

func (s *Service) getDestination(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.loadOr404(w, r); ok {
		httpx.WriteJSON(w, http.StatusOK, d.View())
	}
}

func (s *Service) putDestination(w http.ResponseWriter, r *http.Request) {
	old, ok := s.loadOr404(w, r)
	if !ok {
		return
	}
	d, ok := s.readInput(w, r)
	if !ok {
		return
	}
	d.ID, d.Tenant, d.CreatedAt, d.UpdatedAt = old.ID, old.Tenant, old.CreatedAt, s.now().UTC()
	if d.Secret == "" {
		d.Secret = old.Secret
	}
	if err := s.deps.Defs.Put(r.Context(), KindDestination, d.Tenant, d.ID, d); err != nil {
		s.log.Error().Err(err).Msg("store destination")
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the definition log is unavailable; retry", "")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d.View())
}

func (s *Service) deleteDestination(w http.ResponseWriter, r *http.Request) {
	d, ok := s.loadOr404(w, r)
	if !ok {
		return
	}
	if err := s.deps.Defs.Delete(r.Context(), KindDestination, d.Tenant, d.ID); err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the definition log is unavailable; retry", "")
		return
	}
	// The definition is gone (every instance stops its dispatcher within a
	// second); its pending deliveries, failures and stats go with it, now
	// and again once the other instances have noticed (purgeLater). The
	// destination is deleted whatever the purge does: a failed purge is
	// retried in the background, not reported (a DELETE retried by the
	// client could only answer 404).
	if err := s.purge(r.Context(), d.Tenant, d.ID); err != nil {
		s.log.Warn().Err(err).Str("destination", d.ID).Msg("purge of a deleted destination's state failed; retrying in the background")
	}
	s.purgeLater(d.Tenant, d.ID)
	w.WriteHeader(http.StatusNoContent)
}
