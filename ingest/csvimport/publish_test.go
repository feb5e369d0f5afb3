package csvimport

import (
	"context"
	"errors"
	"testing"

	"github.com/rs/zerolog"

	"github.com/user360/user360/internal/config"
)

// knownFake is an in-test fake of the optional KnownUsers dependency.
type knownFake struct {
	known map[string]bool
	err   error
	calls int
}

func (k *knownFake) KnownUserIDs(_ context.Context, _ string, ids []string) ([]bool, error) {
	k.calls++
	if k.err != nil {
		return nil, k.err
	}
	out := make([]bool, len(ids))
	for i, id := range ids {
		out[i] = k.known[id]
	}
	return out, nil
}

func TestCountNewAndUpdated(t *testing.T) {
	outs := []rowOut{
		{kind: outImported, id: "old"},                    // has a profile → updated
		{kind: outImported, id: "fresh"},                  // new
		{kind: outImported, id: "fresh"},                  // seen in this import → updated
		{kind: outImported, id: "csv_1", generated: true}, // generated → new
		{kind: outEmpty},
		{kind: outFailed},
	}
	run := func(k KnownUsers) Counts {
		j := &job{s: &Service{deps: Deps{Known: k, Log: zerolog.Nop()}}, t: &config.Tenant{ID: "acme"}, seen: newSeenSet(100)}
		var c Counts
		j.count(context.Background(), outs, &c)
		return c
	}
	fake := &knownFake{known: map[string]bool{"old": true}}
	if c := run(fake); c != (Counts{Total: 6, New: 2, Updated: 2, Empty: 1, Failed: 1}) || fake.calls != 1 {
		t.Fatalf("with KnownUsers: %+v (%d calls)", c, fake.calls)
	}
	// Without it (or when it fails), first-seen ids count as new.
	if c := run(nil); c != (Counts{Total: 6, New: 3, Updated: 1, Empty: 1, Failed: 1}) {
		t.Fatalf("without KnownUsers: %+v", c)
	}
	if c := run(&knownFake{err: errors.New("down")}); c != (Counts{Total: 6, New: 3, Updated: 1, Empty: 1, Failed: 1}) {
		t.Fatalf("failing KnownUsers: %+v", c)
	}
}
