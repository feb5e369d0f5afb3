package activation

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/schemas"
)

func nowForTest() time.Time { return time.Now() }

func TestAudienceKey(t *testing.T) {
	for in, want := range map[string]string{
		"Big Spenders":         "big_spenders",
		"  VIP-Users (India)!": "vip_users_india",
		"cartAbandoners 7d":    "cartabandoners_7d",
		"":                     "",
		"Ünïcode café":         "ünïcode_café",
	} {
		if got := AudienceKey(in); got != want {
			t.Errorf("AudienceKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSignAndVerify(t *testing.T) {
	body := []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	sig := Sign("k", now.Unix(), body)
	if err := Verify("k", sig, "1800000000", body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := Verify("k", "v1=00,"+sig, "1800000000", body, now, 0); err != nil {
		t.Fatalf("rotation list: %v", err)
	}
	for name, f := range map[string]func() error{
		"body":   func() error { return Verify("k", sig, "1800000000", []byte(`{"a":2}`), now, 0) },
		"ts":     func() error { return Verify("k", sig, "1800000001", body, now, 0) },
		"secret": func() error { return Verify("j", sig, "1800000000", body, now, 0) },
		"old":    func() error { return Verify("k", sig, "1800000000", body, now.Add(time.Hour), 5*time.Minute) },
		"junk":   func() error { return Verify("k", sig, "x", body, now, 0) },
	} {
		if f() == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	for n := 1; n <= 12; n++ {
		d := min(100*time.Millisecond<<(n-1), 10*time.Second)
		for range 50 {
			got := backoff(100*time.Millisecond, 10*time.Second, n)
			if got < d/2 || got > d {
				t.Fatalf("attempt %d: %s not in [%s, %s]", n, got, d/2, d)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	if got := parseRetryAfter("7", now); got != 7*time.Second {
		t.Fatal(got)
	}
	if got := parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); got != 90*time.Second {
		t.Fatal(got)
	}
	for _, v := range []string{"", "-3", "soon", now.Add(-time.Hour).Format(http.TimeFormat)} {
		if got := parseRetryAfter(v, now); got != 0 {
			t.Fatalf("%q: %s", v, got)
		}
	}
}

func TestBreakerOpensHalfOpensAndCloses(t *testing.T) {
	b := breaker{threshold: 3, cooldown: time.Second}
	now := time.Unix(0, 0)
	for i := range 3 {
		if b.allowed(now, 8) != 8 {
			t.Fatal("closed breaker limits calls")
		}
		if opened := b.record(false, now); opened != (i == 2) {
			t.Fatalf("failure %d: opened=%v", i, opened)
		}
	}
	if b.allowed(now, 8) != 0 || b.state(now) != breakerOpen {
		t.Fatal("breaker did not open")
	}
	later := now.Add(time.Second)
	if b.allowed(later, 8) != 1 || b.state(later) != breakerHalfOpen {
		t.Fatal("no half-open probe after the cooldown")
	}
	b.record(false, later)
	if b.allowed(later, 8) != 0 {
		t.Fatal("a failed probe must reopen")
	}
	b.record(true, later.Add(time.Second))
	if b.allowed(later, 8) != 8 {
		t.Fatal("a success must close")
	}
}

func TestPublicAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true,
		"127.0.0.1": false, "10.0.0.1": false, "172.16.5.5": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fc00::1": false, "::ffff:127.0.0.1": false,
	} {
		if got := publicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("%s: %v", s, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config takes defaults: %v", err)
	}
	bad := DefaultConfig()
	bad.Lease = bad.Timeout
	if err := bad.Validate(); err == nil {
		t.Fatal("lease <= timeout accepted")
	}
	bad = DefaultConfig()
	bad.Concurrency = -1
	if err := bad.Validate(); err == nil {
		t.Fatal("negative concurrency accepted")
	}
}

// IPv6 forms that embed an IPv4 address are judged by that address; the
// documentation and other reserved ranges are refused.
func TestPublicAddrEmbeddedIPv4AndReservedRanges(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"64:ff9b::a00:1", false},      // NAT64 of 10.0.0.1
		{"64:ff9b::a9fe:a9fe", false},  // NAT64 of 169.254.169.254
		{"64:ff9b::7f00:1", false},     // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true},     // NAT64 of 8.8.8.8
		{"64:ff9b:1::808:808", false},  // local-use NAT64
		{"2002:a00:1::1", false},       // 6to4 of 10.0.0.1
		{"2002:7f00:1::1", false},      // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::", false},    // 6to4 of 169.254.169.254
		{"2002:808:808::1", true},      // 6to4 of 8.8.8.8
		{"::7f00:1", false},            // IPv4-compatible 127.0.0.1
		{"::a9fe:a9fe", false},         // IPv4-compatible 169.254.169.254
		{"::808:808", true},            // IPv4-compatible 8.8.8.8
		{"::ffff:a9fe:a9fe", false},    // IPv4-mapped
		{"::", false},                  // unspecified
		{"192.0.2.1", false},           // TEST-NET-1
		{"198.51.100.7", false},        // TEST-NET-2
		{"203.0.113.9", false},         // TEST-NET-3
		{"2001:db8::1", false},         // IPv6 documentation
		{"2001:0:4136:e378::1", false}, // Teredo
		{"fec0::1", false},             // site-local
		{"100::1", false},              // discard-only
		{"2606:4700:4700::1111", true}, // public IPv6
		{"203.0.114.1", true},          // next to TEST-NET-3
	} {
		if got := publicAddr(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("publicAddr(%s) = %v, want %v", c.ip, got, c.want)
		}
	}
	for _, u := range []string{"http://[64:ff9b::a9fe:a9fe]/", "http://[::127.0.0.1]:1/", "http://[2002:a00:1::1]/", "http://192.0.2.1/"} {
		if err := checkURLHost(t.Context(), u, false); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

// A segment whose key is "audience_key" keeps both properties: its own
// key gets a suffix everywhere it appears.
func TestSegmentFormatAudienceKeyClash(t *testing.T) {
	for _, c := range []struct{ name, id, key string }{
		{"Audience Key", "seg1", "audience_key_audience"},
		{"", "audience-key", "audience_key_audience"},
		{"Big Spenders", "seg1", "big_spenders"},
	} {
		ch := schemas.SegmentChange{Type: schemas.SegmentEntered, MessageID: "m", SegmentID: c.id, SegmentName: c.name, ProfileID: "p"}
		raw, _ := json.Marshal(ch)
		b, err := buildBody(FormatSegment, raw, "m:d")
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Properties map[string]any `json:"properties"`
			Context    struct {
				Personas map[string]any `json:"personas"`
			} `json:"context"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if p.Properties["audience_key"] != c.key || p.Properties[c.key] != true || len(p.Properties) != 2 ||
			p.Context.Personas["computation_key"] != c.key {
			t.Errorf("%q: %s", c.name, b)
		}
	}
}

// Ports outside 1-65535 are refused; names and secrets are measured in
// characters, not bytes.
func TestDestinationInputPortAndCharacterLimits(t *testing.T) {
	in := func(url, name, secret string) *DestinationInput {
		return &DestinationInput{Name: name, URL: url, Secret: secret, Segments: json.RawMessage(`"all"`)}
	}
	for _, c := range []struct {
		in    *DestinationInput
		field string // "" = valid
	}{
		{in("http://example.com:70000/", "n", ""), "url"},
		{in("http://example.com:0/", "n", ""), "url"},
		{in("http://example.com:65536/", "n", ""), "url"},
		{in("http://example.com:65535/", "n", ""), ""},
		{in("http://example.com:1/", "n", ""), ""},
		{in("http://example.com:/", "n", ""), ""},
		{in("https://example.com/", strings.Repeat("名", 200), ""), ""},
		{in("https://example.com/", strings.Repeat("名", 201), ""), "name"},
		{in("https://example.com/", "n", strings.Repeat("é", 256)), ""},
		{in("https://example.com/", "n", strings.Repeat("é", 257)), "secret"},
	} {
		_, err := c.in.toDestination()
		var fe *FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s %d/%d: refused: %v", c.in.URL, len(c.in.Name), len(c.in.Secret), err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%s %d/%d: %v, want an error on %s", c.in.URL, len(c.in.Name), len(c.in.Secret), err, c.field)
		}
	}
}
