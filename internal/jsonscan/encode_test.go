package jsonscan

import (
	"encoding/json"
	"testing"
)

// FuzzAppendString: AppendString writes exactly what encoding/json writes
// for any string.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"free"`, `{"a":"b\\c"}`, "tab\there\nnl\r\b\f\x00\x1f", "<a&b>", "é日本", "\u2028", "\xff\xfe", `\u00e9`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}

// BenchmarkAppendString: a typical identifier, trait value and event name.
func BenchmarkAppendString(b *testing.B) {
	ss := []string{"user_id:user-4190", "1795867202997|k-2997", "Product Viewed", "Asha Rao <asha@example.com>"}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, s := range ss {
			buf = AppendString(buf, s)
		}
	}
}
