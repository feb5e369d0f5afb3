package segmenter

import (
	"context"
	"testing"
	"time"
)

// TestPubOrderWaitsForEarlierTickets: a writer waits for the writers that
// took a ticket before it on any of its profiles, skips what they
// published, and reset releases everyone.
func TestPubOrderWaitsForEarlierTickets(t *testing.T) {
	o := newPubOrder()
	x, y := &pstate{tenant: "t", id: "x"}, &pstate{tenant: "t", id: "y"}
	a := o.enter([]*pstate{x})
	b := o.enter([]*pstate{x, y})
	c := o.enter([]*pstate{y})
	ctx := context.Background()
	if err := o.wait(ctx, []*pstate{x}, a); err != nil {
		t.Fatal(err) // first in line
	}
	waited := func(ps []*pstate, tk *pubTicket) chan error {
		ch := make(chan error, 1)
		go func() { ch <- o.wait(ctx, ps, tk) }()
		return ch
	}
	bDone, cDone := waited([]*pstate{x, y}, b), waited([]*pstate{y}, c)
	select {
	case <-bDone:
		t.Fatal("b did not wait for a")
	case <-cDone:
		t.Fatal("c did not wait for b")
	case <-time.After(50 * time.Millisecond):
	}
	x.pending = []outEntry{{field: "01"}, {field: "02"}}
	o.markSent([]*pstate{x})
	o.leave([]*pstate{x}, a)
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	x.pending = append(x.pending, outEntry{field: "03"})
	if got := o.unsent(x); len(got) != 1 || got[0].field != "03" {
		t.Fatalf("b would publish %v, want only 03 (a published 01 and 02)", got)
	}
	select {
	case <-cDone:
		t.Fatal("c did not wait for b")
	case <-time.After(20 * time.Millisecond):
	}
	o.reset()
	if err := <-cDone; err != nil {
		t.Fatal(err)
	}
	o.leave([]*pstate{x, y}, b) // after a reset: no double close
	if len(o.profs) != 0 {
		t.Fatalf("%d profiles still tracked", len(o.profs))
	}
}
