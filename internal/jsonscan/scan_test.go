package jsonscan

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestSkipValue(t *testing.T) {
	cases := map[string]int{
		`"a\"b" ,`:           6,
		`{"a":"}","b":[1]}x`: 17,
		`[1,[2,{"c":"]"}]] `: 17,
		`-12.5e3,`:           7,
		`true}`:              4,
		`{"a":1`:             -1,
		`"open`:              -1,
		`,`:                  -1,
	}
	for in, want := range cases {
		if got := SkipValue([]byte(in), 0); got != want {
			t.Errorf("SkipValue(%q) = %d, want %d", in, got, want)
		}
	}
}

// FuzzUnescape: whatever Unescape accepts, encoding/json decodes the same.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`a\nb`, `\u00e9\/x`, `\ud83d\ude00`, `\u12`, `tab\t"`, `\q`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := Unescape(raw)
		gotB, okB := Unescape([]byte(raw))
		if got != gotB || ok != okB {
			t.Fatalf("string and []byte forms differ: %q %v / %q %v", got, ok, gotB, okB)
		}
		if !ok || !utf8.ValidString(raw) { // callers check UTF-8 first
			return
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			return // e.g. a raw quote or control byte the caller rejects first
		}
		if got != want {
			t.Fatalf("Unescape(%q) = %q, encoding/json %q", raw, got, want)
		}
	})
}
