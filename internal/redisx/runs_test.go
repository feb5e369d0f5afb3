package redisx

import (
	"fmt"
	"testing"
)

// TestRuns: items of one key stay in order and in runs of at most max;
// keys interleave freely.
func TestRuns(t *testing.T) {
	keys := []string{"a", "b", "a", "a", "b", "a", "c"}
	got := Runs(len(keys), 2, func(i int) string { return keys[i] })
	if want := "[[0 2] [1 4] [3 5] [6]]"; fmt.Sprint(got) != want {
		t.Fatalf("runs %v, want %s", got, want)
	}
	if got := Runs(0, 2, func(int) string { return "" }); len(got) != 0 {
		t.Fatalf("runs of nothing: %v", got)
	}
}
