package defaults

import (
	"testing"
	"time"
)

func TestSet(t *testing.T) {
	var d time.Duration
	Set(&d, time.Second)
	n := 3
	Set(&n, 7)
	s := ""
	Set(&s, "u360")
	if d != time.Second || n != 3 || s != "u360" {
		t.Fatalf("%v %v %q", d, n, s)
	}
}
