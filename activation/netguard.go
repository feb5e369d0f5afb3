package activation

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
)

// publicAddr says whether an IP may be called by a tenant that does not
// allow private webhooks. An IPv6 address that embeds an IPv4 one (NAT64,
// 6to4, IPv4-compatible) is judged by the embedded IPv4 address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if v4, ok := embeddedIPv4(ip); ok {
		ip = v4
	}
	switch {
	case !ip.IsValid(), ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast(), ip.IsMulticast(), ip.IsUnspecified():
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// IPv6 ranges that carry an IPv4 address.
var (
	nat64Prefix    = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: IPv4 in the last 32 bits
	sixToFourPref  = netip.MustParsePrefix("2002::/16")    // RFC 3056: IPv4 in bits 16-48
	v4CompatPrefix = netip.MustParsePrefix("::/96")        // RFC 4291 (deprecated): IPv4 in the last 32 bits
)

// embeddedIPv4 returns the IPv4 address an IPv6 address of the NAT64
// well-known prefix, of 6to4 or IPv4-compatible form stands for.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip), v4CompatPrefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFourPref.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// blockedPrefixes are further non-public ranges: "this network",
// carrier-grade NAT, IETF protocol assignments, the documentation ranges
// (TEST-NET-1/2/3, 2001:db8::/32), benchmarking, reserved (240/4), IPv6
// discard-only, Teredo (its IPv4 is obfuscated), site-local and the
// local-use NAT64 prefix (whose IPv4 mapping is the operator's own).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// checkURLHost resolves the URL's host and refuses non-public addresses
// unless allowPrivate.
func checkURLHost(ctx context.Context, rawURL string, allowPrivate bool) error {
	if allowPrivate {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fieldErr("url", "is not a URL: %v", err)
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !publicAddr(ip) {
			return &FieldError{Field: "url", Msg: fmt.Sprintf("%s is not a public address (%v)", host, ErrPrivateAddress)}
		}
		return nil
	}
	if host == "localhost" {
		return &FieldError{Field: "url", Msg: fmt.Sprintf("localhost is not a public address (%v)", ErrPrivateAddress)}
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fieldErr("url", "host %s does not resolve: %v", host, err)
	}
	for _, ip := range ips {
		if !publicAddr(ip) {
			return &FieldError{Field: "url", Msg: fmt.Sprintf("%s resolves to %s, not a public address (%v)", host, ip, ErrPrivateAddress)}
		}
	}
	return nil
}

// dialControl refuses connections to non-public addresses at dial time,
// after DNS resolution (DNS rebinding defence).
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
	}
	return nil
}
