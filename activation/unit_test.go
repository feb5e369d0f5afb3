package activation

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
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
