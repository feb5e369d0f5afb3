package identity

import (
	"testing"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// CSV imports mark their messages; identity honours the marks on both
// Redis backends.
func TestCSVImportMarks(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			g := newRigNS(t, rdb, namespace(t, rdb))
			csv := func(mode string) map[string]any {
				return map[string]any{"user360": map[string]any{"source": "csv", "mode": mode, "importId": "i1"}}
			}
			g.apply(t,
				schemas.Event{Type: "identify", MessageID: "c1", UserID: "u", Traits: map[string]any{"city": "Pune", "tags": []any{"vip"}}, Timestamp: at(0)},
				schemas.Event{Type: "identify", MessageID: "c2", UserID: "u", Traits: map[string]any{"plan": "pro", "tags": []any{"spring", "import:i1"}}, Context: csv("merge"), Timestamp: at(1)},
			)
			p := g.profile(t, "user_id:u")
			tags, _ := p.Traits["tags"].([]any)
			if len(tags) != 3 || p.Traits["city"] != "Pune" || p.Traits["plan"] != "pro" {
				t.Fatalf("merge import: traits %v, want city kept, plan added and tags unioned", p.Traits)
			}
			g.apply(t, schemas.Event{Type: "identify", MessageID: "c3", UserID: "u", Traits: map[string]any{"plan": "free", "tags": []any{"import:i2"}}, Context: csv("replace"), Timestamp: at(2)})
			p = g.profile(t, "user_id:u")
			tags, _ = p.Traits["tags"].([]any)
			if _, has := p.Traits["city"]; has || p.Traits["plan"] != "free" || len(tags) != 1 {
				t.Fatalf("replace import: traits %v, want only plan and the import's tag", p.Traits)
			}
			// A plain identify still replaces the list (last write wins).
			g.apply(t, schemas.Event{Type: "identify", MessageID: "c4", UserID: "u", Traits: map[string]any{"tags": []any{"x"}}, Timestamp: at(3)})
			if tags, _ := g.profile(t, "user_id:u").Traits["tags"].([]any); len(tags) != 1 || tags[0] != "x" {
				t.Fatalf("plain identify: tags %v", tags)
			}
		})
	}
}
