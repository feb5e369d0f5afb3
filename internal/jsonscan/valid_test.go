package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSeeds = []string{
	``, ` `, `null`, `true`, `false`, `nul`, `truex`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e5`, `1E+5`, `1e-`, `-1.5e-10`, `.5`, `+1`,
	`""`, `"a"`, `"\u00e9\n\t\""`, `"\u12"`, `"\x"`, "\"\x01\"", `"unterminated`, `"\/"`,
	`[]`, `[1,2]`, `[1,]`, `[,1]`, ` [ 1 , "a" , {} ] `, `[1 2]`,
	`{}`, `{"a":1}`, `{"a":1,}`, `{"a" : {"b":[true,null]}}`, `{a:1}`, `{"a"}`, `{"a":}`, `{"a":1 "b":2}`,
	`{"a":1}x`, `1 2`, "\xff", `"é日本"`, "{\"a\":\"\xff\"}",
}

func FuzzValid(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

// TestValidDepth: nesting is limited as encoding/json limits it.
func TestValidDepth(t *testing.T) {
	for _, n := range []int{1, 100, 9999, 10000, 10001, 20000} {
		for _, open := range []string{"[", `{"a":`} {
			closer := "]"
			if open != "[" {
				closer = "}"
			}
			b := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(closer, n))
			if got, want := Valid(b), json.Valid(b); got != want {
				t.Errorf("depth %d (%s): %v, encoding/json %v", n, open, got, want)
			}
		}
	}
}

func BenchmarkValid(b *testing.B) {
	rec := []byte(`{"type":"profile.updated","messageId":"3f1c2a9e-1d2b-4c1f-9d7e-000000000001","tenant":"acme","profileId":"p6a1f0c2b9e3d4a51","userId":"user-42","identities":[{"type":"user_id","value":"user-42"},{"type":"email","value":"asha@example.com"}],"event":{"type":"track","name":"Order Completed","messageId":"e-1","properties":{"revenue":129.5,"currency":"INR","items":3},"timestamp":"2026-11-28T12:00:00Z"},"changes":{},"traits":{"country":"IN","email":"asha@example.com","firstName":"Asha","plan":"pro"},"timestamp":"2026-11-28T12:00:00Z"}`)
	b.Run("jsonscan", func(b *testing.B) {
		for b.Loop() {
			Valid(rec)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(rec)
		}
	})
}
