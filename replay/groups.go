package replay

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/jsonscan"
)

// linkTokens lists the identifier-like values of a record (tenant-scoped):
// userId, anonymousId, previousId, email, phone and mapped identifier
// traits (of traits and context.traits), context.externalIds[].id. It
// over-approximates what the identity stage would resolve, so two records
// that could touch the same profile share a token. One pass over the raw
// record: names compare case-insensitively (as encoding/json matches
// them), values are read as text (a number keeps its literal spelling).
// With profileOf, the profile that the userId, anonymousId, previousId,
// email or a mapped identifier already leads to is a token as well.
func linkTokens(tenants *config.Tenants, tenant string, rec *kgo.Record, profileOf ProfileOf) []string {
	var out []string
	add := func(v string) {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "" {
			out = append(out, tenant+"\x00"+v)
		}
	}
	// the profile an identifier already leads to is a token too: records
	// of one profile share it even when they share no identifier (a
	// visitor merged into a user in an earlier batch)
	known := func(typ, v string) {
		if profileOf != nil && v != "" {
			if pid := profileOf(tenant, typ, v); pid != "" {
				out = append(out, tenant+"\x01"+pid)
			}
		}
	}
	var traitIDs map[string]string
	if t, ok := tenants.Get(tenant); ok {
		traitIDs = t.Identity.TraitIdentifiers
	}
	traits := func(raw []byte) {
		jsonscan.Members(raw, 0, func(k, v []byte) bool {
			name := keyText(k)
			_, isID := traitIDs[name]
			switch {
			case strings.EqualFold(name, "email") || isID:
				add(rawText(v))
				if isID {
					known(traitIDs[name], rawText(v))
				} else {
					known("email", rawText(v))
				}
			case strings.EqualFold(name, "phone"):
				add(digits(rawText(v)))
			}
			return true
		})
	}
	jsonscan.Members(rec.Value, 0, func(k, v []byte) bool {
		switch name := keyText(k); {
		case strings.EqualFold(name, "userId"):
			add(rawText(v))
			known("user_id", rawText(v))
		case strings.EqualFold(name, "anonymousId"), strings.EqualFold(name, "previousId"):
			add(rawText(v))
			known("anonymous_id", rawText(v))
		case strings.EqualFold(name, "traits"):
			traits(v)
		case strings.EqualFold(name, "context"):
			jsonscan.Members(v, 0, func(ck, cv []byte) bool {
				switch cn := keyText(ck); {
				case strings.EqualFold(cn, "traits"):
					traits(cv)
				case strings.EqualFold(cn, "externalIds"):
					jsonscan.Elements(cv, 0, func(x []byte) bool {
						jsonscan.Members(x, 0, func(xk, xv []byte) bool {
							if strings.EqualFold(keyText(xk), "id") {
								add(rawText(xv))
							}
							return true
						})
						return true
					})
				}
				return true
			})
		}
		return true
	})
	return out
}

// keyText is a member name with its escapes resolved.
func keyText(k []byte) string {
	if bytes.IndexByte(k, '\\') < 0 {
		return string(k)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, k...), '"'), &s) != nil {
		return string(k)
	}
	return s
}

// rawText is a raw JSON value as text: a string's content, else the
// literal (number, true, …); null is empty.
func rawText(raw []byte) string {
	if len(raw) > 0 && raw[0] == '"' {
		if bytes.IndexByte(raw, '\\') < 0 {
			return string(raw[1 : len(raw)-1])
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// digits keeps the last 8 digits of a phone number, so that spellings of
// one number (with or without country code, spaces) share a token.
func digits(s string) string {
	var b []rune
	for _, r := range s {
		if unicode.IsDigit(r) {
			b = append(b, r)
		}
	}
	if len(b) > 8 {
		b = b[len(b)-8:]
	}
	return string(b)
}

// unionFind groups records that share a token.
type unionFind struct{ parent []int }

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

func (u *unionFind) union(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		if ra < rb {
			u.parent[rb] = ra
		} else {
			u.parent[ra] = rb
		}
	}
}

// split divides a batch into n parts such that records sharing an
// identifier or a known profile (profileOf, may be nil), directly or
// through other records of the batch, are in the same part, in their
// batch order. Groups go to the least-loaded part in
// order of first appearance, so the split is deterministic.
// ProfileOf says which profile an identifier (type, value as a message
// carries it) leads to, "" when unknown (identity.Processor.CachedProfileOf).
type ProfileOf func(tenant, identType, value string) string

func split(tenants *config.Tenants, recs []*kgo.Record, n int, profileOf ProfileOf) [][]*kgo.Record {
	uf := unionFind{parent: make([]int, len(recs))}
	first := map[string]int{}
	for i, r := range recs {
		uf.parent[i] = i
		for _, tok := range linkTokens(tenants, recordTenant(r), r, profileOf) {
			if j, ok := first[tok]; ok {
				uf.union(i, j)
			} else {
				first[tok] = i
			}
		}
	}
	parts := make([][]*kgo.Record, n)
	load := make([]int, n)
	groupPart := map[int]int{}
	sizes := map[int]int{}
	for i := range recs {
		sizes[uf.find(i)]++
	}
	for i, r := range recs {
		root := uf.find(i)
		p, ok := groupPart[root]
		if !ok {
			p = 0
			for k := 1; k < n; k++ {
				if load[k] < load[p] {
					p = k
				}
			}
			groupPart[root] = p
			load[p] += sizes[root]
		}
		parts[p] = append(parts[p], r)
	}
	return parts
}
