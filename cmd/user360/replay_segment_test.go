package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestReplaySegmentFlags: --segment is refused without --tenant and with
// the flags of a generation replay, before any connection.
func TestReplaySegmentFlags(t *testing.T) {
	t.Setenv("USER360_CONFIG", "")
	base := []string{"replay", "--kafka-brokers", "127.0.0.1:1", "--redis-url", "redis://127.0.0.1:1", "--dev", "--segment", "big"}
	cases := map[string][]string{
		"--segment needs --tenant":           {},
		"drop --into-live":                   {"--tenant", "demo", "--into-live"},
		"--no-switch and --target":           {"--tenant", "demo", "--no-switch"},
		"--segment and --switch-to":          {"--tenant", "demo", "--switch-to", "u360g2"},
		"run it again instead of --resume":   {"--tenant", "demo", "--resume"},
		`"earliest" or an RFC 3339 time`:     {"--tenant", "demo", "--from", "last year"},
		"--no-switch and --target do not ap": {"--tenant", "demo", "--target", "u360g3"},
	}
	for want, extra := range cases {
		var out, errOut bytes.Buffer
		args := append(append([]string{}, base...), extra...)
		if code := run(args, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), want) {
			t.Errorf("%v: exit %d, stderr %q (want it to mention %q)", extra, code, errOut.String(), want)
		}
	}
	f, err := parseReplayFlags([]string{"--segment", "big", "--tenant", "demo", "--from", "2025-01-01T00:00:00Z", "--to", "2025-06-01T00:00:00Z", "--dry-run"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	f.brokers, f.redisURL, f.devTenant = "127.0.0.1:1", "redis://127.0.0.1:1", true
	o, _, err := replayOptions(f)
	if err != nil {
		t.Fatal(err)
	}
	if o.Segment != "big" || o.Tenant != "demo" || !o.DryRun || o.From.Year() != 2025 || o.To.Month() != 6 {
		t.Fatalf("options %+v", o)
	}
}
