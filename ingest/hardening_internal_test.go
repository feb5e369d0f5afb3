package ingest

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// manyKeys is an object of n members named k0…k(n-1), then the members of
// tail.
func manyKeys(n int, tail string) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		b.WriteString(`"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i) + `,`)
	}
	b.WriteString(tail + `}`)
	return []byte(b.String())
}

// BenchmarkSplitObjectManyKeys: splitting an object costs time in
// proportion to its members (a per-key duplicate scan made 45k keys cost
// 2 s, before authentication): ns/op at 40k keys is about 16 times that at
// 2.5k, not 256 times (docs/BENCHMARKS.md). A benchmark, not a test: a
// timed assertion would fail on a slow machine.
func BenchmarkSplitObjectManyKeys(b *testing.B) {
	for _, n := range []int{2500, 40000} {
		obj := manyKeys(n, `"end":0`)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				if fs, err := splitObject(obj); err != nil || len(fs) != n+1 {
					b.Fatalf("%d members, %v", len(fs), err)
				}
			}
		})
	}
}

// TestSplitObjectDuplicates: a later duplicate replaces an earlier one and
// takes its place in the order, as before, in small and large objects.
func TestSplitObjectDuplicates(t *testing.T) {
	for _, n := range []int{0, 3, linearKeys - 1, linearKeys, 100} {
		b := manyKeys(n, `"a":1,"b":2,"a":3,"k0":"x","b":4,"a":5`)
		fs, err := splitObject(b)
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if len(fs) != len(want) {
			t.Fatalf("n=%d: %d members, encoding/json has %d", n, len(fs), len(want))
		}
		for _, f := range fs {
			if string(want[f.key]) != string(f.val) {
				t.Errorf("n=%d: %s = %s, want %s", n, f.key, f.val, want[f.key])
			}
		}
		tail := fs[len(fs)-3:]
		if n > 0 && (tail[0].key != "k0" || tail[1].key != "b" || tail[2].key != "a") {
			t.Errorf("n=%d: order %s", n, fs.appendTo(nil))
		}
	}
}

func TestParseTimeYearRange(t *testing.T) {
	for s, ok := range map[string]bool{
		"9999-12-31T23:59:59Z":           true,
		"9999-12-31T23:59:59+01:00":      true,
		"0000-01-01T00:00:00Z":           true,
		"0000-01-01T00:00:00-01:00":      true,
		"9999-12-31T23:59:59-23:59":      false,
		"9999-12-31 23:59:59.5-0100":     false,
		"0000-01-01T00:00:00+01:00":      false,
		"0000-01-01T00:00:00.000+0001":   false,
		"2026-11-28T10:00:00.123456789Z": true,
	} {
		_, err := parseTime(s)
		if (err == nil) != ok {
			t.Errorf("parseTime(%q): %v", s, err)
		}
		if !ok && !errors.Is(err, errYearOutOfRange) {
			t.Errorf("parseTime(%q): %v, want the range error", s, err)
		}
	}
}

// TestKeepTraits: only the dropped traits are cut and the coerced ones
// rewritten; the others keep their bytes.
func TestKeepTraits(t *testing.T) {
	raw := json.RawMessage(`{ "z" : 9007199254740993, "drop":"x","s":"<&>", "c":"TRUE", "o":{"b":1,"a":[1.0]}, "z":12345678901234567890 }`)
	var traits map[string]any
	if err := json.Unmarshal(raw, &traits); err != nil {
		t.Fatal(err)
	}
	clean := map[string]any{"z": traits["z"], "s": traits["s"], "c": true, "o": traits["o"]}
	got, err := keepTraits(raw, traits, clean)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"s":"<&>","c":true,"o":{"b":1,"a":[1.0]},"z":12345678901234567890}`; string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestCorrectSkewFarApart: a timestamp centuries before sentAt (beyond what
// a time.Duration holds) is kept, not moved by a saturated difference; a
// near one is corrected as Segment does.
func TestCorrectSkewFarApart(t *testing.T) {
	recv := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	sent := recv.Add(time.Second) // the device's clock a second ahead
	for _, ts := range []time.Time{time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got := correctSkew(ts, sent, recv, 5*time.Second); !got.Equal(ts) {
			t.Errorf("%v: corrected to %v", ts, got)
		}
	}
	ts := sent.Add(-time.Minute)
	if got := correctSkew(ts, sent, recv, 5*time.Second); !got.Equal(recv.Add(-time.Minute)) {
		t.Errorf("a minute before sentAt: %v", got)
	}
}
