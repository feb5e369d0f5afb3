package jsonscan

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
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

// FuzzAppendValue: AppendValue writes exactly what encoding/json writes
// for any value decoded from JSON, and declines (b unchanged) only where
// encoding/json fails.
func FuzzAppendValue(f *testing.F) {
	for _, s := range []string{`null`, `true`, `"<a&b>\u2028"`, `0`, `-0`, `1e-7`, `1e21`, `123456789e30`, `0.000001`, `1.5e-300`,
		`[1,"x",null,{"b":1,"a":[false]}]`, `{"é":1,"e":2,"":{"z":{},"y":[]}}`, `{"k":{"k":{"k":{"k":"deep"}}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		want, err := json.Marshal(v)
		got, ok := AppendValue([]byte("x"), v)
		if !ok || err != nil || string(got) != "x"+string(want) {
			t.Fatalf("AppendValue(%s) = %s, %v; want %s, %v", s, got, ok, want, err)
		}
	})
}

// TestAppendValueDeclines: types that decoding JSON does not yield, NaN
// and infinities are left to encoding/json, b as it was.
func TestAppendValueDeclines(t *testing.T) {
	for _, v := range []any{1, json.Number("1"), math.NaN(), math.Inf(-1), []any{1.0, math.Inf(1)}, map[string]any{"a": []any{struct{}{}}}} {
		if got, ok := AppendValue([]byte("x"), v); ok || string(got) != "x" {
			t.Errorf("AppendValue(%#v) = %q, %v; want it declined, b unchanged", v, got, ok)
		}
	}
}

// TestAppendJSON: what AppendValue declines goes through encoding/json,
// the same bytes and the same error; on an error b is left as it was.
func TestAppendJSON(t *testing.T) {
	for _, v := range []any{1, json.Number("12"), struct{ A int }{3}, map[string]any{"a": []any{uint8(7)}}, math.NaN(), map[string]any{"x": math.Inf(1)}} {
		want, werr := json.Marshal(v)
		got, err := AppendJSON([]byte("x"), v)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Errorf("AppendJSON(%#v): error %v, want %v", v, err, werr)
		}
		if werr != nil {
			want = nil
		}
		if string(got) != "x"+string(want) {
			t.Errorf("AppendJSON(%#v) = %q, want %q", v, got, "x"+string(want))
		}
	}
}

// TestFloats: json.Numbers become float64 in place; a number out of range
// is an error with its path below the value.
func TestFloats(t *testing.T) {
	dec := func(s string) any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v, at, err := Floats(dec(`{"a":[1,2.5,{"b":-3e2}],"c":"x","d":true}`))
	if err != nil || at != "" || !reflect.DeepEqual(v, map[string]any{"a": []any{1.0, 2.5, map[string]any{"b": -300.0}}, "c": "x", "d": true}) {
		t.Fatalf("%#v %q %v", v, at, err)
	}
	if _, at, err := Floats(dec(`{"z":1,"a":[0,{"b":1e400}]}`)); err == nil || at != ".a[1].b" {
		t.Fatalf("path %q, %v", at, err)
	}
}
