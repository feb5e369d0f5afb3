package replay

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
)

// linkWire is what a record may carry that links it to other records: every
// field the identity stage reads identifiers from.
type linkWire struct {
	Type        string         `json:"type"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	PreviousID  string         `json:"previousId"`
	Traits      map[string]any `json:"traits"`
	Context     struct {
		Traits      map[string]any   `json:"traits"`
		ExternalIDs []map[string]any `json:"externalIds"`
	} `json:"context"`
}

// linkTokens lists the identifier-like values of a record (tenant-scoped).
// It over-approximates what the identity stage would resolve: two records
// that could touch the same profile share a token.
func linkTokens(tenants *config.Tenants, tenant string, rec *kgo.Record) []string {
	var w linkWire
	if err := json.Unmarshal(rec.Value, &w); err != nil {
		return nil // a dead letter: touches no profile
	}
	var out []string
	add := func(v string) {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "" {
			out = append(out, tenant+"\x00"+v)
		}
	}
	add(w.UserID)
	add(w.AnonymousID)
	add(w.PreviousID)
	var traitIDs map[string]string
	if t, ok := tenants.Get(tenant); ok {
		traitIDs = t.Identity.TraitIdentifiers
	}
	for _, tr := range []map[string]any{w.Context.Traits, w.Traits} {
		for k, v := range tr {
			lk := strings.ToLower(k)
			_, isID := traitIDs[k]
			switch {
			case lk == "email" || isID:
				add(fmt.Sprint(v))
			case lk == "phone":
				add(digits(fmt.Sprint(v)))
			}
		}
	}
	for _, x := range w.Context.ExternalIDs {
		add(fmt.Sprint(x["id"]))
	}
	return out
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
// identifier (directly or through other records of the batch) are in the
// same part, in their batch order. Groups go to the least-loaded part in
// order of first appearance, so the split is deterministic.
func split(tenants *config.Tenants, recs []*kgo.Record, n int) [][]*kgo.Record {
	uf := unionFind{parent: make([]int, len(recs))}
	first := map[string]int{}
	for i, r := range recs {
		uf.parent[i] = i
		for _, tok := range linkTokens(tenants, recordTenant(r), r) {
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
