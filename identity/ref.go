package identity

import (
	"fmt"
	"strings"
)

// Ref is a parsed profile reference: an identifier (type:value) or a
// profile id.
type Ref struct {
	Type      string // identifier type; "" for a profile id
	Value     string // identifier value, or the profile id
	ProfileID bool
}

// ParseRef parses "type:value" (user_id:42, email:a@b.com,
// phone:+919845012345, anonymous_id:…, whatsapp:…) or a bare profile id.
func ParseRef(ref string) (Ref, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return Ref{}, fmt.Errorf("%w: empty reference", ErrBadRef)
	}
	typ, val, found := strings.Cut(ref, ":")
	if !found {
		if strings.ContainsAny(ref, " {}") || len(ref) > 128 {
			return Ref{}, fmt.Errorf("%w: %q is neither type:value nor a profile id", ErrBadRef, ref)
		}
		return Ref{Value: ref, ProfileID: true}, nil
	}
	nt := normType(typ)
	if nt == "" {
		return Ref{}, fmt.Errorf("%w: identifier type %q is invalid", ErrBadRef, typ)
	}
	if strings.TrimSpace(val) == "" {
		return Ref{}, fmt.Errorf("%w: identifier value is empty", ErrBadRef)
	}
	return Ref{Type: nt, Value: val}, nil
}

// String formats the reference.
func (r Ref) String() string {
	if r.ProfileID {
		return r.Value
	}
	return r.Type + ":" + r.Value
}
