// Package egress keeps Whistle's outbound HTTP calls (webhooks to a
// subscriber's URL, say) away from private addresses: a URL that a
// department or a subscriber supplies must not reach the cluster's own
// services, the node's loopback or the cloud's metadata endpoint (server-side
// request forgery).
//
// The check is made on the IP actually being connected to, at connect time,
// after DNS resolution: a host name that resolves to 127.0.0.1, a DNS answer
// that changes between a check and the call (rebinding) and a redirect to a
// private address are all refused alike. An operator whose own service lives
// at a private address allows it explicitly with WHISTLE_EGRESS_ALLOW.
package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// EnvAllow is the environment variable naming the operator's allow-list, as
// ParseAllow reads it: e.g. "10.20.0.0/16,192.168.1.5".
const EnvAllow = "WHISTLE_EGRESS_ALLOW"

// ErrRefused is wrapped by every error refusing an address; the message names
// the address, what kind of address it is, and what to do about it.
var ErrRefused = errors.New("egress: address refused")

// Policy decides which addresses outbound calls may connect to. The zero
// Policy refuses every special-purpose address (see Check) and allows every
// other (public) one. A Policy is a value; it is safe for concurrent use as
// long as Allow is not modified.
type Policy struct {
	// Allow lists prefixes that are allowed even though Check would refuse
	// them: an operator's own services. Default empty. See ParseAllow.
	Allow []netip.Prefix
}

// special is one range refused unless allowed, with what it is.
type special struct {
	prefix netip.Prefix
	what   string
}

// refused lists the IANA special-purpose ranges (RFC 6890 and successors)
// that are not public unicast destinations. IPv4-mapped IPv6 addresses are
// unmapped before they are looked up here; NAT64 and 6to4 addresses are
// judged by the IPv4 address they embed (see embedded).
var refused = []special{
	{mustPrefix("0.0.0.0/8"), `"this network" (0.0.0.0/8, incl. the unspecified address)`},
	{mustPrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{mustPrefix("100.64.0.0/10"), "carrier-grade NAT shared space (RFC 6598)"},
	{mustPrefix("127.0.0.0/8"), "loopback"},
	{mustPrefix("169.254.0.0/16"), "link-local (incl. the cloud metadata endpoint 169.254.169.254)"},
	{mustPrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{mustPrefix("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"},
	{mustPrefix("192.0.2.0/24"), "documentation (TEST-NET-1)"},
	{mustPrefix("192.88.99.0/24"), "6to4 relay anycast (deprecated)"},
	{mustPrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{mustPrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{mustPrefix("198.51.100.0/24"), "documentation (TEST-NET-2)"},
	{mustPrefix("203.0.113.0/24"), "documentation (TEST-NET-3)"},
	{mustPrefix("224.0.0.0/4"), "multicast"},
	{mustPrefix("255.255.255.255/32"), "broadcast"},
	{mustPrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},
	{mustPrefix("::/128"), "unspecified"},
	{mustPrefix("::1/128"), "loopback"},
	{mustPrefix("::/96"), "IPv4-compatible IPv6 (deprecated)"},
	{mustPrefix("::ffff:0:0:0/96"), "IPv4-translated IPv6 (RFC 2765)"},
	{mustPrefix("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"},
	{mustPrefix("100::/64"), "discard-only (RFC 6666)"},
	{mustPrefix("2001::/32"), "Teredo (embeds an obfuscated IPv4 address)"},
	{mustPrefix("2001:2::/48"), "benchmarking (RFC 5180)"},
	{mustPrefix("2001:20::/28"), "ORCHIDv2 (not routable)"},
	{mustPrefix("2001:db8::/32"), "documentation"},
	{mustPrefix("3fff::/20"), "documentation (RFC 9637)"},
	{mustPrefix("5f00::/16"), "segment routing SIDs (RFC 9602)"},
	{mustPrefix("fc00::/7"), "unique local (private, incl. the cloud metadata endpoint fd00:ec2::254)"},
	{mustPrefix("fe80::/10"), "link-local"},
	{mustPrefix("fec0::/10"), "site-local (deprecated)"},
	{mustPrefix("ff00::/8"), "multicast"},
}

var (
	nat64     = mustPrefix("64:ff9b::/96")
	sixToFour = mustPrefix("2002::/16")
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// Check returns nil if ip may be connected to, and otherwise an error
// wrapping ErrRefused. It refuses, unless p.Allow contains the address:
// loopback, private (RFC 1918, fc00::/7), link-local (incl. the metadata
// endpoints 169.254.169.254 and fd00:ec2::254), unspecified, multicast,
// broadcast, carrier-grade NAT, 0.0.0.0/8, 192.0.0.0/24, benchmarking,
// 240.0.0.0/4, documentation ranges and the other special-purpose ranges
// listed in this package. An IPv4-mapped IPv6 address is judged as the IPv4
// address it maps; a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address is
// refused if the IPv4 address it embeds is. An IPv6 zone is ignored. The
// invalid (zero) Addr is refused.
func (p Policy) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: no address", ErrRefused)
	}
	ip = ip.WithZone("").Unmap()
	if p.allowed(ip) {
		return nil
	}
	if v4, ok := embedded(ip); ok {
		if err := p.Check(v4); err != nil {
			return fmt.Errorf("%w: %s embeds %s, which is refused; add it to %s if it is an operator's own service",
				ErrRefused, ip, v4, EnvAllow)
		}
		return nil
	}
	for _, s := range refused {
		if s.prefix.Contains(ip) {
			return fmt.Errorf("%w: %s is %s; add it to %s if it is an operator's own service",
				ErrRefused, ip, s.what, EnvAllow)
		}
	}
	return nil
}

// allowed tells whether ip (unmapped) is in p.Allow, whose prefixes may be
// written in either form.
func (p Policy) allowed(ip netip.Addr) bool {
	mapped := netip.AddrFrom16(ip.As16())
	for _, pre := range p.Allow {
		if pre.Contains(ip) || (ip.Is4() && pre.Contains(mapped)) {
			return true
		}
	}
	return false
}

// embedded returns the IPv4 address inside a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address.
func embedded(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case ip.Is6() && nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case ip.Is6() && sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// ParseAllow parses an allow-list as WHISTLE_EGRESS_ALLOW holds it: CIDR
// prefixes ("10.20.0.0/16", "fd00:1::/64") or single addresses ("10.0.0.5",
// taken as a /32 or /128), separated by commas, spaces around an entry
// ignored. An empty string (the default) allows nothing. Host bits of a
// prefix are cleared; an IPv4-mapped entry is turned into its IPv4 form. It
// returns an error naming the first entry that is neither, or that has a
// zone.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("egress: %s entry %q is neither a CIDR prefix (10.20.0.0/16) nor an IP address (10.20.0.5): %w",
				EnvAllow, entry, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseEntry(entry string) (netip.Prefix, error) {
	if !strings.Contains(entry, "/") {
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("zones are not allowed")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(entry)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
