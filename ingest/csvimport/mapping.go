package csvimport

import (
	"strings"

	"github.com/user360/user360/ingest/propschema"
)

// Column is how one CSV column is imported.
type Column struct {
	Index    int    `json:"index"`
	Header   string `json:"header"`
	Property string `json:"property,omitempty"` // trait name; "" when skipped
	Type     string `json:"type,omitempty"`     // property type; "" for an untyped custom trait
	ID       bool   `json:"id,omitempty"`       // the user id column
	Skipped  string `json:"skipped,omitempty"`  // why the column is not imported
}

// synonyms maps normalised header names (lower-case letters and digits) to
// system properties. "userId" means the id column.
var synonyms = map[string]string{
	"email": "email", "emailaddress": "email", "mail": "email", "emailid": "email",
	"phone": "phone", "phonenumber": "phone", "phoneno": "phone", "mobile": "phone", "mobilephone": "phone",
	"mobilenumber": "phone", "cell": "phone", "cellphone": "phone", "telephone": "phone", "tel": "phone", "msisdn": "phone",
	"firstname": "firstName", "first": "firstName", "givenname": "firstName", "forename": "firstName", "fname": "firstName",
	"lastname": "lastName", "last": "lastName", "surname": "lastName", "familyname": "lastName", "lname": "lastName",
	"gender": "gender", "sex": "gender",
	"country": "country", "countryname": "country",
	"city": "city", "town": "city",
	"language": "language", "lang": "language", "locale": "language",
	"timezone": "timezone", "tz": "timezone",
	"dob": "dob", "dateofbirth": "dob", "birthday": "dob", "birthdate": "dob",
	"emailoptin": "emailOptin", "emailconsent": "emailOptin", "emailsubscribed": "emailOptin", "optinemail": "emailOptin",
	"smsoptin": "smsOptin", "smsconsent": "smsOptin", "optinsms": "smsOptin",
	"whatsappoptin": "whatsAppOptin", "whatsappconsent": "whatsAppOptin", "optinwhatsapp": "whatsAppOptin",
	"tags": "tags", "tag": "tags", "labels": "tags",
	"createdat": "createdAt", "created": "createdAt", "signupdate": "createdAt", "signedupat": "createdAt", "registrationdate": "createdAt",
	"updatedat": "updatedAt", "updated": "updatedAt", "modifiedat": "updatedAt",
	"lastseenat": "lastSeenAt", "lastseen": "lastSeenAt", "lastactivity": "lastSeenAt",
	"lastchannel": "lastChannel",
	"userid":      "userId", "id": "userId", "user": "userId", "customerid": "userId", "externalid": "userId", "uid": "userId",
}

// normalize keeps lower-case letters and digits: "Phone Number" → "phonenumber".
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r > 127 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

const idProperty = "userId"

const skippedByMapping = "skipped by the mapping"

// mapColumns decides how each header is imported. idColumn and overrides
// (header → property, "-" to skip) come from the request; headers are
// matched case-insensitively. See docs/IMPORT.md for the rules.
func mapColumns(headers []string, idColumn string, overrides map[string]string, schema Schema, tenant string, strict bool) ([]Column, error) {
	cols := make([]Column, len(headers))
	byTarget := map[string]int{} // property → column index
	idIdx := -1
	used := map[string]bool{}

	custom := map[string]propschema.Property{} // normalised → custom property
	for _, p := range schema.Properties(tenant) {
		if !p.System {
			custom[normalize(p.Name)] = p
		}
	}
	overrideFor := func(h string) (string, string, bool) {
		for k, v := range overrides {
			if strings.EqualFold(strings.TrimSpace(k), h) {
				return k, strings.TrimSpace(v), true
			}
		}
		return "", "", false
	}

	for i, raw := range headers {
		h := strings.TrimSpace(raw)
		c := Column{Index: i, Header: h}
		switch {
		case h == "":
			c.Skipped = "the column has no header"
		case idColumn != "" && strings.EqualFold(h, strings.TrimSpace(idColumn)):
			c.ID = true
			if key, _, ok := overrideFor(h); ok {
				used[key] = true // the id column wins over a mapping
			}
		default:
			if key, target, ok := overrideFor(h); ok {
				used[key] = true
				switch {
				case target == "" || target == "-":
					c.Skipped = skippedByMapping
				case strings.EqualFold(target, idProperty) && idColumn == "":
					c.ID = true
				case strings.EqualFold(target, idProperty):
					return nil, fieldErr("map", ErrInvalidHeader, "the mapping %q=%q maps a column to the user id, but idColumn %q is the id column; remove one of them", key, target, idColumn)
				default:
					if p, ok := schema.PropertyFold(tenant, target); ok {
						c.Property, c.Type = p.Name, string(p.Type)
					} else if strict {
						return nil, fieldErr("map", ErrInvalidHeader, "the mapping %q=%q names a property that is not in the schema, and the schema is strict", key, target)
					} else {
						c.Property = target
					}
				}
				break
			}
			if p, ok := schema.PropertyFold(tenant, h); ok {
				c.Property, c.Type = p.Name, string(p.Type)
			} else if n := normalize(h); synonyms[n] != "" {
				p, _ := schema.PropertyFold(tenant, synonyms[n])
				c.Property, c.Type = p.Name, string(p.Type)
			} else if p, ok := custom[n]; ok {
				c.Property, c.Type = p.Name, string(p.Type)
			} else if strict {
				c.Skipped = "not in the schema (strict schema)"
			} else {
				c.Property = h // untyped custom trait
			}
			if c.Property == idProperty {
				c.Property, c.Type = "", ""
				if idColumn == "" && idIdx < 0 {
					c.ID = true
				} else {
					c.Skipped = "another column is the id column"
				}
			}
		}
		if c.ID {
			if idIdx >= 0 {
				return nil, fieldErr("idColumn", ErrInvalidHeader, "columns %q and %q are both the id column", cols[idIdx].Header, h)
			}
			idIdx = i
		}
		if c.Property != "" {
			if j, dup := byTarget[c.Property]; dup {
				return nil, fieldErr("map", ErrInvalidHeader, "columns %q and %q both map to %q; use map to choose (Header=- skips a column)", cols[j].Header, h, c.Property)
			}
			byTarget[c.Property] = i
		}
		cols[i] = c
	}
	if idColumn != "" && idIdx < 0 {
		return nil, fieldErr("idColumn", ErrInvalidHeader, "the id column %q is not in the header", idColumn)
	}
	for k := range overrides {
		if !used[k] {
			return nil, fieldErr("map", ErrInvalidHeader, "the mapping names the column %q, which is not in the header", k)
		}
	}
	return cols, nil
}
