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
// allow private webhooks.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
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

// blockedPrefixes are further non-public ranges (carrier-grade NAT,
// benchmarking, documentation, "this network", IPv6 NAT64 of private…).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
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
