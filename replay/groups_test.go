package replay

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/internal/config"
)

func rec(v string) *kgo.Record { return &kgo.Record{Key: []byte("t/x"), Value: []byte(v)} }

// TestLinkTokens: every field identity reads identifiers from yields a
// token, spelled so that what identity would link shares one.
func TestLinkTokens(t *testing.T) {
	ts, err := config.NewTenants([]config.Tenant{{ID: "t", Identity: config.IdentityRules{TraitIdentifiers: map[string]string{"whatsapp_id": "whatsapp"}}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		value string
		want  []string
	}{
		{`{"userId":"U1","anonymousId":"a1","previousId":"p1"}`, []string{"u1", "a1", "p1"}},
		{`{"UserId":" u1 ","traits":{"Email":"A@B.com","phone":"+91 98450 12345","whatsapp_id":919845012345,"plan":"pro"}}`,
			[]string{"u1", "a@b.com", "45012345", "919845012345"}},
		{`{"context":{"traits":{"email":"c@d.e"},"externalIds":[{"id":"w-1","type":"whatsapp"},{"type":"x","id":42}]},"properties":{"email":"not@me"}}`,
			[]string{"c@d.e", "w-1", "42"}},
		{`{"userId":"u\u0031","traits":{"phone":9845012345}}`, []string{"u1", "45012345"}},
		{`{"userId":null,"anonymousId":""}`, nil},
		{`not json`, nil},
	}
	for _, c := range cases {
		got := linkTokens(ts, "t", rec(c.value), nil)
		var want []string
		for _, w := range c.want {
			want = append(want, "t\x00"+w)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: tokens %q, want %q", c.value, got, want)
		}
	}
}

// TestSplitKeepsLinkedRecordsTogetherInOrder: records linked directly or
// through others land in one part, in batch order.
func TestSplitKeepsLinkedRecordsTogetherInOrder(t *testing.T) {
	ts, _ := config.NewTenants([]config.Tenant{{ID: "t"}})
	recs := []*kgo.Record{
		rec(`{"anonymousId":"a1"}`),                   // 0 ┐
		rec(`{"userId":"u2"}`),                        // 1   ┐
		rec(`{"userId":"u1","anonymousId":"a1"}`),     // 2 ┤
		rec(`{"userId":"u1","traits":{"email":"e"}}`), // 3 ┤
		rec(`{"userId":"u3","traits":{"email":"E"}}`), // 4 ┘ (email e)
		rec(`{"userId":"u2"}`),                        // 5   ┘
	}
	parts := split(ts, recs, 4, nil)
	where := map[*kgo.Record]int{}
	for k, p := range parts {
		for _, r := range p {
			where[r] = k
		}
		for i := 1; i < len(p); i++ {
			if slices.Index(recs, p[i-1]) > slices.Index(recs, p[i]) {
				t.Errorf("part %d out of order", k)
			}
		}
	}
	for _, i := range []int{2, 3, 4} {
		if where[recs[i]] != where[recs[0]] {
			t.Errorf("record %d not with record 0", i)
		}
	}
	if where[recs[5]] != where[recs[1]] || where[recs[1]] == where[recs[0]] {
		t.Errorf("u2's records: parts %d and %d (u1's: %d)", where[recs[1]], where[recs[5]], where[recs[0]])
	}
}

// TestSplitKeepsKnownProfilesTogether: records that share no identifier
// but lead to one known profile (a visitor merged into a user in an
// earlier batch) land in one part; the lookup sees the identifier types.
func TestSplitKeepsKnownProfilesTogether(t *testing.T) {
	ts, _ := config.NewTenants([]config.Tenant{{ID: "t"}})
	known := map[string]string{"user_id:u1": "p1", "anonymous_id:v9": "p1", "email:x@y.z": "p2", "user_id:u5": "p2"}
	profileOf := func(tenant, typ, v string) string {
		if tenant != "t" {
			t.Errorf("tenant %q", tenant)
		}
		return known[typ+":"+v]
	}
	recs := []*kgo.Record{
		rec(`{"userId":"u1"}`),                            // p1
		rec(`{"anonymousId":"v9"}`),                       // p1
		rec(`{"userId":"u7","traits":{"email":"x@y.z"}}`), // p2
		rec(`{"userId":"u5"}`),                            // p2
		rec(`{"userId":"u6"}`),                            // unknown
	}
	for _, n := range []int{2, 4, 8} {
		parts := split(ts, recs, n, profileOf)
		where := map[*kgo.Record]int{}
		for k, p := range parts {
			for _, r := range p {
				where[r] = k
			}
		}
		if where[recs[0]] != where[recs[1]] || where[recs[2]] != where[recs[3]] {
			t.Errorf("%d parts: records of one profile apart: %v", n, []int{where[recs[0]], where[recs[1]], where[recs[2]], where[recs[3]]})
		}
		if n >= 4 && (where[recs[0]] == where[recs[2]] || where[recs[4]] == where[recs[0]]) {
			t.Errorf("%d parts: unrelated records together: %v", n, []int{where[recs[0]], where[recs[2]], where[recs[4]]})
		}
	}
}
