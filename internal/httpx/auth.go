package httpx

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/user360/user360/internal/config"
)

type tenantKey struct{}

// WithTenant stores the authenticated tenant in a context.
func WithTenant(ctx context.Context, t *config.Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

// TenantFrom returns the tenant that authenticated the request.
func TenantFrom(ctx context.Context) *config.Tenant {
	t, _ := ctx.Value(tenantKey{}).(*config.Tenant)
	return t
}

// BasicUser returns the user name of HTTP Basic auth ("" when absent): the
// write key of the tracking API.
func BasicUser(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 6 || !strings.EqualFold(h[:6], "basic ") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[6:]))
	if err != nil {
		return ""
	}
	user, _, _ := strings.Cut(string(raw), ":")
	return user
}

// APIKey returns the key of "Authorization: Bearer <key>" or "x-api-key".
func APIKey(r *http.Request) string {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// RequireAPIKey authenticates a read/admin API with an API key and puts the
// tenant in the request context. A write key is refused (403): it can only
// write through the tracking API.
func RequireAPIKey(ts *config.Tenants, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := APIKey(r)
		if key == "" {
			if _, isWrite := ts.ByWriteKey(BasicUser(r)); isWrite {
				// a write key sent as the tracking API takes it (HTTP Basic)
				WriteError(w, http.StatusForbidden, "forbidden", "a write key cannot read or administer; use an API key", "")
				return
			}
			WriteError(w, http.StatusUnauthorized, "unauthorized", "an API key is required (Authorization: Bearer <key> or x-api-key)", "")
			return
		}
		t, ok := ts.ByAPIKey(key)
		if !ok {
			if _, isWrite := ts.ByWriteKey(key); isWrite {
				WriteError(w, http.StatusForbidden, "forbidden", "a write key cannot read or administer; use an API key", "")
				return
			}
			WriteError(w, http.StatusUnauthorized, "unauthorized", "unknown API key", "")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithTenant(r.Context(), t)))
	})
}
